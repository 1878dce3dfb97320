import type { EdgeConfig } from "../config/config.ts";
import type { Env } from "../env.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import type { WebhookSecretState } from "../tenant/webhook-secrets.ts";
import { tenantWebhookSecret } from "./signing.ts";

/**
 * The secrets a tenant's deliveries are signed with right now. Two rotations overlap here, each on its own:
 * the tenant's (its current generation, plus the previous one until its overlap ends) and the operator's (the
 * master, plus WEBHOOK_SIGNING_SECRET_PREVIOUS until WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL): every live
 * generation under every live master signs. The generations come from the tenant's object and are cached per
 * isolate for SECRET_STATE_CACHE_MS, so a rotation reaches every delivery within a minute (the previous secret
 * still signs through the overlap, so nothing a receiver accepts is lost in that minute). If the tenant's
 * object cannot be reached the delivery attempt fails and is retried on the outbox's schedule.
 */
const SECRET_STATE_CACHE_MS = 60_000;
const cache = new Map<string, { state: WebhookSecretState; fetchedAtMs: number }>();

type SigningConfig = Pick<EdgeConfig, "webhookSigningSecret" | "webhookSigningPrevious">;

/** One secret deliveries are signed with, and when it stops signing (null: until the next rotation). */
export interface SigningSecret {
  secret: string;
  generation: number;
  expiresAtMs: number | null;
}

/** Every secret that signs a tenant's deliveries at `nowMs`, the current one first. */
export async function signingSecrets(
  config: SigningConfig,
  tenantId: string,
  state: WebhookSecretState,
  nowMs: number,
) {
  const generations: { generation: number; expiresAtMs: number | null }[] = [
    { generation: state.generation, expiresAtMs: null },
  ];
  if (state.previous !== null && state.previous.expiresAtMs > nowMs) generations.push(state.previous);
  const masters: { master: string; expiresAtMs: number | null }[] = [
    { master: config.webhookSigningSecret, expiresAtMs: null },
  ];
  const previousMaster = config.webhookSigningPrevious;
  if (previousMaster !== null && previousMaster.untilMs > nowMs) {
    masters.push({ master: previousMaster.secret, expiresAtMs: previousMaster.untilMs });
  }
  const secrets: Promise<SigningSecret>[] = [];
  for (const { master, expiresAtMs: masterExpiresAtMs } of masters) {
    for (const { generation, expiresAtMs } of generations) {
      const ends = [masterExpiresAtMs, expiresAtMs].filter((ms): ms is number => ms !== null);
      secrets.push(
        tenantWebhookSecret(master, tenantId, generation).then((secret) => ({
          secret,
          generation,
          expiresAtMs: ends.length === 0 ? null : Math.min(...ends),
        })),
      );
    }
  }
  return Promise.all(secrets);
}

/** The secrets to sign one delivery with, from the tenant's (cached) generations. */
export async function liveWebhookSecrets(env: Env, config: SigningConfig, tenantId: string, nowMs: number) {
  let cached = cache.get(tenantId);
  if (cached === undefined || nowMs - cached.fetchedAtMs > SECRET_STATE_CACHE_MS) {
    cached = { state: await tenantIndexStub(env, tenantId).webhookSecretState(), fetchedAtMs: nowMs };
    cache.set(tenantId, cached);
  }
  return (await signingSecrets(config, tenantId, cached.state, nowMs)).map(({ secret }) => secret);
}

/** Forgets a tenant's cached generations (after its own rotation, so this isolate signs with it at once). */
export function forgetWebhookSecrets(tenantId: string): void {
  cache.delete(tenantId);
}
