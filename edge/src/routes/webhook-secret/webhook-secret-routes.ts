import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../app-env.ts";
import type { EdgeConfig } from "../../config/config.ts";
import { PUBLIC_BODY_MAX_BYTES } from "../../config/constants.ts";
import { parseJsonBody } from "../../http/parse-body.ts";
import { jsonBody } from "../../middleware/json-only.ts";
import { tenantIndexStub } from "../../tenant/tenant-index-stub.ts";
import type { WebhookSecretState } from "../../tenant/webhook-secrets.ts";
import { tenantWebhookSecret } from "../../webhooks/signing.ts";
import { forgetWebhookSecrets, signingSecrets } from "../../webhooks/tenant-secrets.ts";

/** A rotation's overlap: a day by default (receivers switch at leisure), at most a week, 0 retires at once. */
const OVERLAP_SECONDS_DEFAULT = 86_400;
const OVERLAP_SECONDS_MAX = 7 * 86_400;

export const RotateWebhookSecretSchema = z.strictObject({
  overlap_seconds: z.int().min(0).max(OVERLAP_SECONDS_MAX).default(OVERLAP_SECONDS_DEFAULT),
});

/**
 * The tenant's secret view: `secret` (current generation under the current master), `previous` (the tenant's
 * own rotation), and `signing_secrets`, every secret a delivery carries a signature of right now (an operator's
 * master rotation adds the old master's), each with when it stops: a receiver that accepts any of them never
 * misses a delivery during either rotation.
 */
async function view(config: EdgeConfig, tenantId: string, state: WebhookSecretState) {
  const nowMs = Date.now();
  const secret = await tenantWebhookSecret(config.webhookSigningSecret, tenantId, state.generation);
  const previous =
    state.previous === null
      ? null
      : {
          secret: await tenantWebhookSecret(config.webhookSigningSecret, tenantId, state.previous.generation),
          generation: state.previous.generation,
          expires_at: new Date(state.previous.expiresAtMs).toISOString(),
        };
  const signing = (await signingSecrets(config, tenantId, state, nowMs)).map((entry) => ({
    secret: entry.secret,
    generation: entry.generation,
    expires_at: entry.expiresAtMs === null ? null : new Date(entry.expiresAtMs).toISOString(),
  }));
  return { object: "webhook_secret", secret, generation: state.generation, previous, signing_secrets: signing };
}

/**
 * `/v1/webhook-secret`: the caller's tenant's Standard Webhooks signing secret. `GET` shows it (and the
 * previous one while a rotation overlaps); `POST /rotate` moves to a new one, signing with both for
 * `overlap_seconds` (default a day), so the tenant rotates alone and its receivers never miss a delivery.
 */
export function webhookSecretRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const { tenantId } = c.var.caller;
    return c.json(await view(c.var.config, tenantId, await tenantIndexStub(c.env, tenantId).webhookSecretState()));
  });
  app.post("/rotate", ...jsonBody({ maxBytes: PUBLIC_BODY_MAX_BYTES }), async (c) => {
    const { tenantId } = c.var.caller;
    const { overlap_seconds: overlapSeconds } = await parseJsonBody(c, RotateWebhookSecretSchema);
    const state = await tenantIndexStub(c.env, tenantId).rotateWebhookSecret(overlapSeconds * 1_000);
    forgetWebhookSecrets(tenantId);
    return c.json(await view(c.var.config, tenantId, state));
  });
  return app;
}
