import { type CapabilityKeys, capabilitySecrets } from "./capability-secrets.ts";
import { hmacSha256, timingSafeEqualText, toBase64Url } from "./crypto.ts";

/**
 * The per-job worker capability (docs/worker-api.md, docs/security.md): what a worker presents, from the job's
 * queue message, to call the worker API on that one job.
 *
 *   v2.<expires_at, Unix seconds>.<base64url(HMAC-SHA256(WORKER_CAPABILITY_SECRET, "job:<id>:<expires_at>"))>
 *
 * It is scoped (the MAC binds the job id: no other job accepts it) and expires (the MAC binds the expiry: a
 * leaked message stops working once the job can no longer legitimately run). What it may do on its job is
 * further bounded by the lease (epoch fencing, `lease_held`) and by the edge's own checks (max_tokens, usage,
 * cancel). Verification is constant-time per candidate secret and tries the current secret, then the previous
 * one (WORKER_CAPABILITY_SECRET_PREVIOUS), so the secret rotates with an overlap: workers holding messages
 * minted under the old secret keep working until those expire (the rule: capability-secrets.ts).
 *
 * The version-1 form (a bare MAC over "job:<id>", no expiry) is accepted only while
 * WORKER_CAPABILITY_LEGACY_UNTIL is in the future: an operator sets it for the rollout that introduces v2, so
 * messages already queued still run, and lets it lapse.
 */

export type { CapabilityKeys } from "./capability-secrets.ts";

export const CAPABILITY_PREFIX = "v2";

export type CapabilityVerdict = { ok: true } | { ok: false; reason: "malformed" | "expired" | "invalid" };

const V2 = /^v2\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;
const V1 = /^[A-Za-z0-9_-]{43}$/;

async function mac(secret: string, message: string): Promise<string> {
  return toBase64Url(await hmacSha256(secret, message));
}

/** Mints the capability of `jobId`, valid until `expiresAtMs` (rounded down to the second). */
export async function jobCapability(secret: string, jobId: string, expiresAtMs: number): Promise<string> {
  const expiresAtSeconds = Math.floor(expiresAtMs / 1_000);
  return `${CAPABILITY_PREFIX}.${expiresAtSeconds}.${await mac(secret, `job:${jobId}:${expiresAtSeconds}`)}`;
}

/** Whether `presented` authorises calls on `jobId` at `nowMs`. */
export async function verifyCapability(
  keys: CapabilityKeys,
  jobId: string,
  presented: string,
  nowMs: number,
): Promise<CapabilityVerdict> {
  const secrets = capabilitySecrets(keys);
  const v2 = V2.exec(presented);
  if (v2?.[1] !== undefined && v2[2] !== undefined) {
    const expiresAtSeconds = Number(v2[1]);
    let isValid = false;
    // Every candidate is computed and compared, so the time taken does not say which secret matched.
    for (const secret of secrets) {
      isValid = timingSafeEqualText(await mac(secret, `job:${jobId}:${expiresAtSeconds}`), v2[2]) || isValid;
    }
    if (!isValid) return { ok: false, reason: "invalid" };
    return expiresAtSeconds * 1_000 > nowMs ? { ok: true } : { ok: false, reason: "expired" };
  }
  if (V1.test(presented)) {
    if (keys.legacyUntilMs === null || keys.legacyUntilMs <= nowMs) return { ok: false, reason: "expired" };
    let isValid = false;
    for (const secret of secrets) {
      isValid = timingSafeEqualText(await mac(secret, `job:${jobId}`), presented) || isValid;
    }
    return isValid ? { ok: true } : { ok: false, reason: "invalid" };
  }
  return { ok: false, reason: "malformed" };
}

/** The legacy (version-1) capability, for tests of the rollout path only. */
export async function legacyJobCapability(secret: string, jobId: string): Promise<string> {
  return mac(secret, `job:${jobId}`);
}
