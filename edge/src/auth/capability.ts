import { hmacSha256, timingSafeEqualText, toBase64Url } from "./crypto.ts";

/**
 * Per-job worker capability (docs/worker-api.md): base64url(HMAC-SHA256(WORKER_CAPABILITY_SECRET, "job:" + id)).
 * It travels in the queue message and authorises calls on that one job; rotating the secret revokes all.
 */
export async function jobCapability(secret: string, jobId: string): Promise<string> {
  return toBase64Url(await hmacSha256(secret, `job:${jobId}`));
}

export async function isValidCapability(secret: string, jobId: string, presented: string): Promise<boolean> {
  return timingSafeEqualText(await jobCapability(secret, jobId), presented);
}
