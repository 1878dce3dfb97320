import { Webhook } from "standardwebhooks";
import { hmacSha256, toBase64 } from "../auth/crypto.ts";

/**
 * Per-tenant webhook secret in Standard Webhooks form (`whsec_` + base64 of 32 bytes), derived from the
 * edge's WEBHOOK_SIGNING_SECRET and the tenant id: nothing per tenant is stored, an operator prints a
 * tenant's secret with `npm run -w edge webhook-secret -- <tenant_id>`, and rotating the master rotates all.
 */
export async function tenantWebhookSecret(masterSecret: string, tenantId: string): Promise<string> {
  return `whsec_${toBase64(await hmacSha256(masterSecret, `webhook-secret:${tenantId}`))}`;
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** Standard Webhooks headers for one attempt: the id is stable across retries, the timestamp is not. */
export function signWebhook(secret: string, messageId: string, body: string, at: Date): SignedHeaders {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1_000)),
    "webhook-signature": new Webhook(secret).sign(messageId, at, body),
  };
}
