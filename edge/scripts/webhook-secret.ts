/**
 * Prints a tenant's webhook signing secret (Standard Webhooks `whsec_...`), derived from the edge's
 * WEBHOOK_SIGNING_SECRET exactly as the edge derives it:
 *   WEBHOOK_SIGNING_SECRET=... npm run -w edge webhook-secret -- <tenant_id>
 * Without the variable it uses the local development value from wrangler.toml.
 */
import { createHmac } from "node:crypto";
import { IdSchema } from "@bd3-serve/shared";

const DEV_SIGNING_SECRET = "dev-webhook-signing-secret-not-for-production";

const [tenantId] = process.argv.slice(2);
if (!tenantId || !IdSchema.safeParse(tenantId).success) {
  console.error("usage: WEBHOOK_SIGNING_SECRET=... npm run -w edge webhook-secret -- <tenant_id>");
  process.exit(2);
}
const master = process.env.WEBHOOK_SIGNING_SECRET ?? DEV_SIGNING_SECRET;
if (!process.env.WEBHOOK_SIGNING_SECRET) console.error("(WEBHOOK_SIGNING_SECRET not set: using the local dev value)");
const secret = `whsec_${createHmac("sha256", master).update(`webhook-secret:${tenantId}`).digest("base64")}`;
console.log(secret);
