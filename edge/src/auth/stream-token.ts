import { IdSchema } from "@bd3-serve/shared";
import { type CapabilitySecretKeys, capabilitySecrets } from "./capability-secrets.ts";
import { hmacSha256, timingSafeEqualText, toBase64Url } from "./crypto.ts";

/**
 * Stream tokens: what a browser's `EventSource` presents instead of an API key (it cannot send headers), as
 * the `stream_token` query parameter of one job's stream routes and nowhere else.
 *
 *   st1.<tenant id>.<job id>.<expires_at, Unix seconds>.<base64url(HMAC-SHA256(secret, "stream:<tenant>:<job>:<exp>"))>
 *
 * Scoped to reading one job's stream (the MAC binds tenant and job), short-lived (STREAM_TOKEN_TTL_SECONDS),
 * keyed by the capability secret under its own prefix ("stream:" never collides with a capability's "job:"),
 * so it rotates with it: the previous secret verifies during the same overlap (capability-secrets.ts). A token
 * is a bearer credential in a URL: the edge never logs query strings, and an API key is never accepted in one.
 */

export const STREAM_TOKEN_PREFIX = "st1";
/** How long a stream token lives: long enough to open (and reopen) a stream, short enough to leak little. */
export const STREAM_TOKEN_TTL_SECONDS = 300;

const TOKEN = /^st1\.([A-Za-z0-9_-]{1,128})\.([A-Za-z0-9_-]{1,128})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

async function mac(secret: string, tenantId: string, jobId: string, expiresAtSeconds: number): Promise<string> {
  return toBase64Url(await hmacSha256(secret, `stream:${tenantId}:${jobId}:${expiresAtSeconds}`));
}

export async function mintStreamToken(secret: string, tenantId: string, jobId: string, nowMs: number) {
  const expiresAtSeconds = Math.floor(nowMs / 1_000) + STREAM_TOKEN_TTL_SECONDS;
  const token = `${STREAM_TOKEN_PREFIX}.${tenantId}.${jobId}.${expiresAtSeconds}.${await mac(secret, tenantId, jobId, expiresAtSeconds)}`;
  return { token, expiresAtMs: expiresAtSeconds * 1_000 };
}

/** The tenant a token speaks for when it is valid for `jobId` at `nowMs`; null otherwise (never why). */
export async function verifyStreamToken(
  keys: CapabilitySecretKeys,
  jobId: string,
  presented: string,
  nowMs: number,
): Promise<string | null> {
  const match = TOKEN.exec(presented);
  if (match === null) return null;
  const [, tenantId, tokenJobId, expiresAt, presentedMac] = match;
  if (tenantId === undefined || tokenJobId === undefined || expiresAt === undefined || presentedMac === undefined) {
    return null;
  }
  if (!IdSchema.safeParse(tenantId).success) return null;
  let isValid = false;
  // Every candidate secret is computed and compared, so timing does not say which matched.
  for (const secret of capabilitySecrets(keys)) {
    isValid = timingSafeEqualText(await mac(secret, tenantId, tokenJobId, Number(expiresAt)), presentedMac) || isValid;
  }
  const isForThisJob = tokenJobId === jobId;
  const isLive = Number(expiresAt) * 1_000 > nowMs;
  return isValid && isForThisJob && isLive ? tenantId : null;
}
