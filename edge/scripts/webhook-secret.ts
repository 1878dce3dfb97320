/**
 * Prints a tenant's webhook signing secret (Standard Webhooks `whsec_...`), derived from the edge's
 * WEBHOOK_SIGNING_SECRET exactly as the edge derives it (generation 0 unless given: tenants rotate their own
 * with `POST /v1/webhook-secret/rotate`, and `GET /v1/webhook-secret` says which generation is current):
 *   WEBHOOK_SIGNING_SECRET=... npm run -w edge webhook-secret -- <tenant_id> [generation]
 * Without the variable it uses the local development value from wrangler.toml.
 */
import { createHmac } from "node:crypto";
import { IdSchema } from "@bd3-serve/shared";

const DEV_SIGNING_SECRET = "dev-webhook-signing-secret-not-for-production";

const [tenantId, generationArg = "0"] = process.argv.slice(2);
const generation = Number(generationArg);
if (!tenantId || !IdSchema.safeParse(tenantId).success || !Number.isInteger(generation) || generation < 0) {
  console.error("usage: WEBHOOK_SIGNING_SECRET=... npm run -w edge webhook-secret -- <tenant_id> [generation]");
  process.exit(2);
}
const master = process.env.WEBHOOK_SIGNING_SECRET ?? DEV_SIGNING_SECRET;
if (!process.env.WEBHOOK_SIGNING_SECRET) console.error("(WEBHOOK_SIGNING_SECRET not set: using the local dev value)");
const message = generation === 0 ? `webhook-secret:${tenantId}` : `webhook-secret:${tenantId}:${generation}`;
const secret = `whsec_${createHmac("sha256", master).update(message).digest("base64")}`;
console.log(secret);
