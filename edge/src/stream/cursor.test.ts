import { describe, expect, it } from "vitest";
import { currentCursorInterval, responseCursor } from "./cursor.ts";

describe("Stream-Cursor", () => {
  const nowMs = Date.UTC(2026, 11, 7, 12);

  it("is the current 20 s interval when the client sends none or an older one", () => {
    const current = currentCursorInterval(nowMs);
    expect(responseCursor(null, nowMs)).toBe(String(current));
    expect(responseCursor(String(current - 5), nowMs)).toBe(String(current));
    expect(currentCursorInterval(nowMs + 20_000)).toBe(current + 1);
  });

  it("moves strictly past a cursor at or ahead of the current interval (1 s to 1 h of jitter)", () => {
    const current = currentCursorInterval(nowMs);
    expect(responseCursor(String(current), nowMs, () => 0)).toBe(String(current + 1));
    expect(responseCursor(String(current + 10), nowMs, () => 0.999_999)).toBe(String(current + 10 + 180));
  });
});
