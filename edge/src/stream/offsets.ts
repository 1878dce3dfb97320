/**
 * Stream offsets of the Durable Streams protocol (PROTOCOL.md section 8): opaque, lexicographically sortable
 * tokens. Ours are `<16 digits>_<16 digits>`: the first part is always zero (the shape the protocol's own
 * reference server mints, which the conformance suite writes literally as the "zero offset"), the second is
 * the position in the stream's stored bytes. Zero-padding keeps string order equal to position order, and a
 * fork shares its source's offset space because a position means the same byte in both.
 *
 * `-1` (the start) and `now` (the tail) are the protocol's sentinels; they are never minted.
 */

/** Digits of each half of an offset: 10^16 bytes is far beyond any stream a Durable Object can hold. */
const OFFSET_DIGITS = 16;
const OFFSET_PATTERN = /^(\d{16})_(\d{16})$/;

export type ParsedOffset =
  | { kind: "start" }
  | { kind: "now" }
  | { kind: "position"; position: number }
  | { kind: "invalid"; reason: string };

/** The offset of a position (a byte count from the start of the stream). */
export function formatOffset(position: number): string {
  return `${"0".repeat(OFFSET_DIGITS)}_${String(position).padStart(OFFSET_DIGITS, "0")}`;
}

/** The start of every stream as a minted offset (what `-1` means). */
export const ZERO_OFFSET = formatOffset(0);

export function parseOffset(raw: string): ParsedOffset {
  if (raw === "-1") return { kind: "start" };
  if (raw === "now") return { kind: "now" };
  const match = OFFSET_PATTERN.exec(raw);
  if (match === null) return { kind: "invalid", reason: "offset must be -1, now, or an offset this server returned" };
  if (match[1] !== "0".repeat(OFFSET_DIGITS)) return { kind: "invalid", reason: "offset was not minted here" };
  const position = Number(match[2]);
  if (!Number.isSafeInteger(position)) return { kind: "invalid", reason: "offset is out of range" };
  return { kind: "position", position };
}
