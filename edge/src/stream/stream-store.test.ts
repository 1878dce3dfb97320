import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concat } from "./bytes.ts";
import { STREAM_CHUNK_MAX_BYTES } from "./limits.ts";
import { splitRows } from "./stream-store.ts";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

describe("splitRows", () => {
  it("cuts a message into rows of at most STREAM_CHUNK_MAX_BYTES that join back to it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * STREAM_CHUNK_MAX_BYTES + 7 }), (length) => {
        const message = Uint8Array.from({ length }, (_, i) => i % 251);
        const rows = splitRows(message);
        expect(rows.every((row) => row.byteLength <= STREAM_CHUNK_MAX_BYTES)).toBe(true);
        expect(sameBytes(concat(rows), message)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it("never ends a row inside a UTF-8 character, so every row decodes on its own", () => {
    const text = "aé€😀".repeat(STREAM_CHUNK_MAX_BYTES / 2);
    const rows = splitRows(new TextEncoder().encode(text));
    expect(rows.length).toBeGreaterThan(1);
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
    expect(rows.map((row) => decoder.decode(row)).join("")).toBe(text);
  });
});
