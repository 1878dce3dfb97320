import type { EdgeConfig } from "../config/config.ts";

/**
 * Which secrets verify what the edge signed with WORKER_CAPABILITY_SECRET: job capabilities (capability.ts)
 * and stream tokens (stream-token.ts), in one place so the two cannot disagree about a rotation.
 *
 * The rotation rule: the current secret mints and verifies; the previous one (WORKER_CAPABILITY_SECRET_PREVIOUS)
 * only verifies, and only during the overlap, which lasts as long as the operator keeps it set (docs/deploy.md,
 * "Secret rotation": until every capability minted under it has expired). Once it is removed, what it signed
 * is refused. The current secret comes first; verifiers compute every candidate anyway, so the order never
 * shows in their timing.
 */

export interface CapabilityKeys {
  current: string;
  /** Accepted for verification during a rotation; never used to mint. */
  previous: string | null;
  /** Version-1 capabilities are accepted until this instant (ms since the epoch); null: never. */
  legacyUntilMs: number | null;
}

/** What a verifier needs of the keys: the secrets, not the legacy window. */
export type CapabilitySecretKeys = Pick<CapabilityKeys, "current" | "previous">;

/** The keys the edge's settings (config/config.ts) give. */
export function capabilityKeys(
  config: Pick<EdgeConfig, "capabilitySecret" | "capabilityPreviousSecret" | "capabilityLegacyUntilMs">,
): CapabilityKeys {
  return {
    current: config.capabilitySecret,
    previous: config.capabilityPreviousSecret,
    legacyUntilMs: config.capabilityLegacyUntilMs,
  };
}

/** The secrets to verify with, current first: the previous one only while the overlap lasts. */
export function capabilitySecrets(keys: CapabilitySecretKeys): readonly string[] {
  // An empty previous secret is no secret (an HMAC under an empty key is anyone's): treated as unset.
  return keys.previous === null || keys.previous === "" ? [keys.current] : [keys.current, keys.previous];
}
