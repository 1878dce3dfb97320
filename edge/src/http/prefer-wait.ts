/**
 * `Prefer: wait=N` (RFC 7240): seconds the client is willing to wait for a final answer, clamped to
 * [0, maxSeconds]. A malformed or absent preference is ignored, as the RFC asks, and yields 0.
 */
export function preferWaitSeconds(header: string | undefined, maxSeconds: number): number {
  if (!header) return 0;
  for (const preference of header.split(",")) {
    const match = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*(;.*)?$/i.exec(preference);
    if (match?.[1]) return Math.min(Number(match[1]), maxSeconds);
  }
  return 0;
}
