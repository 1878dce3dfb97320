import type { Env } from "../env.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import type { WebhookSecretState } from "../tenant/webhook-secrets.ts";
import { tenantWebhookSecret } from "./signing.ts";

/**
 * The secrets a tenant's deliveries are signed with right now: its current generation, plus the previous one
 * during a rotation's overlap. The generations come from the tenant's object and are cached per isolate for
 * SECRET_STATE_CACHE_MS, so a rotation reaches every delivery within a minute (the previous secret still
 * signs through the overlap, so nothing a receiver accepts is lost in that minute). If the tenant's object
 * cannot be reached the delivery attempt fails and is retried on the outbox's schedule.
 */
const SECRET_STATE_CACHE_MS = 60_000;
const cache = new Map<string, { state: WebhookSecretState; fetchedAtMs: number }>();

export async function liveWebhookSecrets(env: Env, masterSecret: string, tenantId: string, nowMs: number) {
  let cached = cache.get(tenantId);
  if (cached === undefined || nowMs - cached.fetchedAtMs > SECRET_STATE_CACHE_MS) {
    cached = { state: await tenantIndexStub(env, tenantId).webhookSecretState(), fetchedAtMs: nowMs };
    cache.set(tenantId, cached);
  }
  const { generation, previous } = cached.state;
  const generations =
    previous !== null && previous.expiresAtMs > nowMs ? [generation, previous.generation] : [generation];
  return Promise.all(generations.map((g) => tenantWebhookSecret(masterSecret, tenantId, g)));
}

/** Forgets a tenant's cached generations (after its own rotation, so this isolate signs with it at once). */
export function forgetWebhookSecrets(tenantId: string): void {
  cache.delete(tenantId);
}
