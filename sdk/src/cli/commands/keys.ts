import {
  type ApiKey,
  type ApiKeyScope,
  ApiKeyScopeSchema,
  PRIORITY_MAX,
  PRIORITY_MIN,
  PrioritySchema,
} from "@bd3-serve/shared";
import { type Command, InvalidArgumentError } from "commander";
import { clientFromEnv } from "../env.ts";
import { printJson } from "../output.ts";
import { intOption } from "../parse-options.ts";

interface JsonOption {
  json?: boolean;
}

interface CreateOptions extends JsonOption {
  tenant: string;
  name: string;
  scope: ApiKeyScope[];
  expiresAt?: string;
  priorityMax?: number;
}

const DEFAULT_SCOPES: ApiKeyScope[] = ["generations:read", "generations:write"];

function scopeOption(raw: string, previous: ApiKeyScope[]): ApiKeyScope[] {
  const parsed = ApiKeyScopeSchema.safeParse(raw.trim());
  if (!parsed.success) throw new InvalidArgumentError(`one of ${ApiKeyScopeSchema.options.join(", ")}.`);
  return previous.includes(parsed.data) ? previous : [...previous, parsed.data];
}

/** A priority ceiling: one of the priorities (0 low, 1 normal, 2 high), digits only. */
function priorityOption(raw: string): number {
  const parsed = PrioritySchema.safeParse(/^\d$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN);
  if (!parsed.success) throw new InvalidArgumentError(`an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}.`);
  return parsed.data;
}

/** An instant as the API takes it (UTC ISO-8601): any form Date parses, e.g. 2026-12-31 or 2026-12-31T12:00Z. */
function instantOption(raw: string): string {
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError("not a date (ISO-8601, e.g. 2026-12-31T00:00:00Z).");
  return new Date(ms).toISOString();
}

function stateOf(key: ApiKey, nowMs = Date.now()): string {
  if (key.revoked_at !== null) return "revoked";
  if (key.expires_at !== null) return Date.parse(key.expires_at) <= nowMs ? "expired" : `until ${key.expires_at}`;
  return "active";
}

function describeKey(key: ApiKey): string {
  const lines = [
    `id:           ${key.id}`,
    `prefix:       ${key.prefix}`,
    `name:         ${key.name}`,
    `tenant:       ${key.tenant_id}`,
    `scopes:       ${key.scopes.join(", ")}`,
    `priority_max: ${key.priority_max ?? "-"}`,
    `state:        ${stateOf(key)}`,
    `created_at:   ${key.created_at}`,
    `last_used_at: ${key.last_used_at ?? "-"}`,
  ];
  return `${lines.join("\n")}\n`;
}

/** The plain key on stdout, alone on its first line (easy to capture), the reminder on stderr. */
function showSecret(plainKey: string, key: ApiKey): void {
  process.stdout.write(`${plainKey}\n${describeKey(key)}`);
  process.stderr.write("bd3: the key above is shown once; store it now (the API keeps only its hash)\n");
}

/** `bd3 keys create|list|revoke|rotate`: run-time API keys (needs BD3_API_KEY with the admin scope). */
export function registerKeyCommands(program: Command): void {
  const keys = program.command("keys").description("manage API keys (BD3_API_KEY must have the admin scope)");

  keys
    .command("create")
    .description("create a key for a tenant; prints the key once (first line), then its details")
    .requiredOption("--tenant <tenant_id>", "the tenant the key acts for")
    .requiredOption("--name <name>", "what the key is for (shown in lists)")
    .option(
      "--scope <scope>",
      `a scope, repeatable: ${ApiKeyScopeSchema.options.join(", ")} (default: generations:read and generations:write)`,
      scopeOption,
      [] as ApiKeyScope[],
    )
    .option("--expires-at <instant>", "when the key stops working (ISO-8601)", instantOption)
    .option(
      "--priority-max <n>",
      `the highest priority the key's creates may ask for, ${PRIORITY_MIN}..${PRIORITY_MAX} (default: any)`,
      priorityOption,
    )
    .option("--json", "print the created key (with `key`) as one JSON line")
    .action(async (options: CreateOptions) => {
      const created = await clientFromEnv().admin.keys.create({
        tenant_id: options.tenant,
        name: options.name,
        scopes: options.scope.length > 0 ? options.scope : DEFAULT_SCOPES,
        ...(options.expiresAt === undefined ? {} : { expires_at: options.expiresAt }),
        ...(options.priorityMax === undefined ? {} : { priority_max: options.priorityMax }),
      });
      if (options.json) printJson(created);
      else showSecret(created.key, created);
    });

  keys
    .command("list")
    .description("list keys, oldest first (never the keys themselves)")
    .option("--tenant <tenant_id>", "only this tenant's keys")
    .option("--limit <n>", "at most this many (default all)", intOption(1))
    .option("--json", "one JSON line per key")
    .action(async (options: JsonOption & { tenant?: string; limit?: number }) => {
      let count = 0;
      const list = clientFromEnv().admin.keys.list({
        limit: Math.min(100, options.limit ?? 100),
        ...(options.tenant === undefined ? {} : { tenantId: options.tenant }),
      });
      for await (const key of list) {
        if (options.json) printJson(key);
        else {
          const columns = [key.id, key.prefix, key.tenant_id, key.name, key.scopes.join(","), stateOf(key)];
          process.stdout.write(`${columns.join("  ")}\n`);
        }
        if (options.limit !== undefined && ++count >= options.limit) break;
      }
    });

  keys
    .command("revoke")
    .description("revoke a key (idempotent; refused everywhere within 30 s)")
    .argument("<id>")
    .option("--json", "print the revoked key as one JSON line")
    .action(async (id: string, options: JsonOption) => {
      const revoked = await clientFromEnv().admin.keys.revoke(id);
      if (options.json) printJson(revoked);
      else process.stdout.write(describeKey(revoked));
    });

  keys
    .command("rotate")
    .description("mint a new key like this one; the old one keeps working for the overlap (default a day)")
    .argument("<id>")
    .option("--overlap-seconds <n>", "how long the old key keeps working (0..604800)", intOption(0))
    .option("--json", "print the rotation (new_key with `key`, old_key) as one JSON line")
    .action(async (id: string, options: JsonOption & { overlapSeconds?: number }) => {
      const rotation = await clientFromEnv().admin.keys.rotate(
        id,
        options.overlapSeconds === undefined ? {} : { overlapSeconds: options.overlapSeconds },
      );
      if (options.json) printJson(rotation);
      else {
        showSecret(rotation.new_key.key, rotation.new_key);
        process.stdout.write(`old key ${rotation.old_key.id} works until ${rotation.old_key.expires_at}\n`);
      }
    });
}
