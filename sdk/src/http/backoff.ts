import { RETRY_AFTER_MAX_SECONDS } from "./retry-after.ts";

export interface BackoffOptions {
  /** Delay before the first retry, before jitter (default 500 ms). */
  baseDelayMs: number;
  /** Cap of the exponential delay (default 8 s). */
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 500, maxDelayMs: 8_000 };

/**
 * Milliseconds to wait before retry number `attempt` (0 for the first retry): exponential with "equal
 * jitter" (half fixed, half random), so concurrent clients spread out but never retry at once. A server's
 * `Retry-After` wins when it is given (capped at `RETRY_AFTER_MAX_SECONDS`), plus up to 10% jitter so a
 * crowd told the same second does not come back in the same millisecond.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterSeconds: number | null,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
  retryAfterMaxSeconds = RETRY_AFTER_MAX_SECONDS,
): number {
  if (retryAfterSeconds !== null) {
    const ms = Math.min(retryAfterSeconds, retryAfterMaxSeconds) * 1_000;
    return Math.round(ms + ms * 0.1 * random());
  }
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

/** Whether an answer of this status is worth retrying: 408 (request timeout), 429 and every 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
