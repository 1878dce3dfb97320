/**
 * Byte helpers of the stream room: joining row pieces, and putting JSON messages that span rows back together.
 */
import type { StreamPiece } from "./stream-store.ts";

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Whole JSON messages from row pieces (a message larger than a row spans several). */
export function jsonValues(pieces: readonly StreamPiece[]): Uint8Array[] {
  const values: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  for (const piece of pieces) {
    parts.push(piece.data);
    if (piece.endPosition === piece.messageEnd) {
      values.push(concat(parts));
      parts = [];
    }
  }
  return values;
}
