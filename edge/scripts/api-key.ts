/**
 * Creates an API key for a tenant and prints what goes where:
 *   npm run -w edge api-key -- <tenant_id> [key_id]
 * The plain key is shown once, for the tenant; the edge only ever stores its SHA-256 (the API_KEYS entry).
 */
import { createHash, randomBytes } from "node:crypto";
import { IdSchema } from "@bd3-serve/shared";

const [tenantId, keyId = `key_${randomBytes(6).toString("hex")}`] = process.argv.slice(2);
if (!tenantId || !IdSchema.safeParse(tenantId).success || !IdSchema.safeParse(keyId).success) {
  console.error("usage: npm run -w edge api-key -- <tenant_id> [key_id]   (ids: letters, digits, '_' and '-')");
  process.exit(2);
}
const key = `bd3_live_${randomBytes(24).toString("base64url")}`;
const entry = { id: keyId, tenant_id: tenantId, sha256: createHash("sha256").update(key).digest("hex") };
console.log(`API key for ${tenantId} (give it to the tenant; it is not stored anywhere):\n\n  ${key}\n`);
console.log(`Add this entry to the API_KEYS JSON list (wrangler.toml [env.production.vars] or the API_KEYS secret):\n`);
console.log(`  ${JSON.stringify(entry)}\n`);
console.log("Remove the entry to revoke the key; keys are looked up by hash, so rotation is add-new then remove-old.");
