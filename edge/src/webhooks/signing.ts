import { Webhook } from "standardwebhooks";
import { hmacSha256, toBase64 } from "../auth/crypto.ts";

/**
 * A tenant's webhook secret of one generation in Standard Webhooks form (`whsec_` + base64 of 32 bytes),
 * derived from the edge's WEBHOOK_SIGNING_SECRET, the tenant id and the generation (the tenant's object keeps
 * which generations are live: tenant/webhook-secrets.ts). Generation 0 is the secret from before rotation
 * existed, unchanged. An operator prints one with `npm run -w edge webhook-secret -- <tenant_id> [generation]`.
 */
export async function tenantWebhookSecret(masterSecret: string, tenantId: string, generation = 0): Promise<string> {
  const message = generation === 0 ? `webhook-secret:${tenantId}` : `webhook-secret:${tenantId}:${generation}`;
  return `whsec_${toBase64(await hmacSha256(masterSecret, message))}`;
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/**
 * Standard Webhooks headers for one attempt: the id is stable across retries, the timestamp is not. With
 * several secrets (a rotation's overlap) the signature header carries one `v1,<sig>` per secret, space
 * separated, so a receiver holding either secret verifies.
 */
export function signWebhook(secrets: readonly string[], messageId: string, body: string, at: Date): SignedHeaders {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1_000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(" "),
  };
}
