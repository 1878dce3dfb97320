/**
 * Bounded exponential backoff with full jitter (AWS's "full jitter": a uniform draw in [0, cap]), so a fleet of
 * workers that lost the edge at the same moment does not come back in lockstep.
 */

export interface BackoffPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Cap of the first retry's delay, in milliseconds; doubles per retry. */
  baseDelayMs: number;
  /** No retry waits longer than this, in milliseconds. */
  maxDelayMs: number;
}

export const EDGE_BACKOFF_BASE_DELAY_MS = 200;
export const EDGE_BACKOFF_MAX_DELAY_MS = 5_000;

/** Delay before retry number `retry` (1 = the first retry). */
export function backoffDelayMs(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

/** A sleep that fake timers can drive (the global setTimeout), abortable. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
