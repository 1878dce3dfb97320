/**
 * `Stream-Cursor` for live reads (PROTOCOL.md section 10.1): the number of 20 s intervals since 2024-10-09 UTC,
 * so CDNs can collapse readers waiting on the same offset. A cursor never goes backwards: when the client
 * echoes one at or past the current interval, the answer jumps ahead by 1 s to 1 h of jitter, so a cached
 * empty response cannot be served to the same client forever.
 */

const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9);
const CURSOR_INTERVAL_SECONDS = 20;
const JITTER_MIN_SECONDS = 1;
const JITTER_MAX_SECONDS = 3_600;

export function currentCursorInterval(nowMs: number): number {
  return Math.floor((nowMs - CURSOR_EPOCH_MS) / (CURSOR_INTERVAL_SECONDS * 1_000));
}

/** The cursor to answer a live read with, given the one the client echoed (if any). */
export function responseCursor(clientCursor: string | null, nowMs: number, random: () => number = Math.random): string {
  const current = currentCursorInterval(nowMs);
  const echoed = clientCursor === null ? Number.NaN : Number.parseInt(clientCursor, 10);
  if (!Number.isFinite(echoed) || echoed < current) return String(current);
  const jitterSeconds = JITTER_MIN_SECONDS + Math.floor(random() * (JITTER_MAX_SECONDS - JITTER_MIN_SECONDS + 1));
  return String(echoed + Math.max(1, Math.ceil(jitterSeconds / CURSOR_INTERVAL_SECONDS)));
}
