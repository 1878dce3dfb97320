/** Longest `Retry-After` the SDK honours; a server asking for more is waited on for this long. */
export const RETRY_AFTER_MAX_SECONDS = 60;

/**
 * `Retry-After` in seconds (RFC 9110: delta-seconds or an HTTP date), null when absent or unreadable. A
 * date in the past is 0.
 */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | null {
  const raw = headers.get("retry-after")?.trim();
  if (raw === undefined || raw === "") return null;
  if (/^\d+$/.test(raw)) return Number(raw);
  // An HTTP date names its day and month ("Sun, 06 Nov 1994 08:49:37 GMT"); "-5" is not one.
  const at = /[a-z]{3}/i.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1_000));
}
