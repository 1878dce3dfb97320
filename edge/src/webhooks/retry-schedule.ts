/**
 * Webhook retry schedule (Standard Webhooks style): after the first attempt, retries wait roughly
 * exponentially longer, ending after ~3.3 days in total. Each wait gets +-10 % jitter so a receiver that
 * comes back is not hit by every job at once.
 */
export const WEBHOOK_RETRY_DELAYS_SECONDS: readonly number[] = [
  5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 57_600, 86_400, 86_400,
];
const JITTER_FRACTION = 0.1;

/** Attempts a delivery gets in all: the first one plus one per scheduled retry. */
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_SECONDS.length + 1;

/**
 * Wait before the next attempt after `attemptsMade` failed attempts, or null when the schedule is spent.
 * `random` is in [0, 1) and only shapes the jitter.
 */
export function nextRetryDelayMs(attemptsMade: number, random: number): number | null {
  const base = WEBHOOK_RETRY_DELAYS_SECONDS[attemptsMade - 1];
  if (base === undefined) return null;
  const jitter = 1 + JITTER_FRACTION * (2 * random - 1);
  return Math.round(base * 1_000 * jitter);
}

/** `Retry-After` as seconds (delta-seconds or an HTTP date), null when absent or unreadable. */
export function parseRetryAfterSeconds(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const trimmed = header.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - nowMs) / 1_000));
}
