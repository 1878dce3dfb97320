/**
 * Creates an API key for a tenant and prints what goes where:
 *   npm run -w edge api-key -- <tenant_id> [key_id] [--scope generations:write --scope admin ...] [--priority-max N]
 * The plain key is shown once, for the tenant; the edge only ever stores its SHA-256 (the API_KEYS entry).
 * Without --scope the key has the default scopes (generations:write and generations:read); the first admin
 * key of a deployment is made this way (`--scope admin`), later ones with `bd3 keys create`. --priority-max caps
 * the `priority` the key's creates may ask for (0 low, 1 normal, 2 high; default: no cap).
 */
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { ApiKeyScopeSchema, IdSchema, PRIORITY_MAX, PRIORITY_MIN, PrioritySchema } from "@bd3-serve/shared";

const usage =
  "usage: npm run -w edge api-key -- <tenant_id> [key_id] [--scope <scope>]... [--priority-max <n>]   (ids: letters, digits, '_' and '-')";
const { values, positionals } = parseArgs({
  options: { scope: { type: "string", multiple: true }, "priority-max": { type: "string" } },
  allowPositionals: true,
});
const [tenantId, keyId = `key_${randomBytes(6).toString("hex")}`] = positionals;
if (!tenantId || !IdSchema.safeParse(tenantId).success || !IdSchema.safeParse(keyId).success) {
  console.error(usage);
  process.exit(2);
}
const scopes = values.scope ?? [];
for (const scope of scopes) {
  if (!ApiKeyScopeSchema.safeParse(scope).success) {
    console.error(`--scope must be one of ${ApiKeyScopeSchema.options.join(", ")} (got '${scope}')`);
    process.exit(2);
  }
}
const rawPriorityMax = values["priority-max"];
// Digits only: Number() would read "", "1.0" or "0x1" as a priority.
const priorityMax =
  rawPriorityMax === undefined
    ? undefined
    : PrioritySchema.safeParse(/^\d$/.test(rawPriorityMax) ? Number(rawPriorityMax) : -1);
if (priorityMax?.success === false) {
  console.error(`--priority-max must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX} (got '${rawPriorityMax}')`);
  process.exit(2);
}
const key = `bd3_live_${randomBytes(24).toString("base64url")}`;
const entry = {
  id: keyId,
  tenant_id: tenantId,
  sha256: createHash("sha256").update(key).digest("hex"),
  ...(scopes.length > 0 ? { scopes } : {}),
  ...(priorityMax?.success ? { priority_max: priorityMax.data } : {}),
};
console.log(`API key for ${tenantId} (give it to the tenant; it is not stored anywhere):\n\n  ${key}\n`);
console.log(`Add this entry to the API_KEYS JSON list (wrangler.toml [env.production.vars] or the API_KEYS secret):\n`);
console.log(`  ${JSON.stringify(entry)}\n`);
console.log("Remove the entry to revoke the key; keys are looked up by hash, so rotation is add-new then remove-old.");
