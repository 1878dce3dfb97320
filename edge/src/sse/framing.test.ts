import { describe, expect, it } from "vitest";
import { formatSseComment, formatSseEvent, formatSseRetry } from "./framing.ts";

describe("SSE framing", () => {
  it("writes id, event and data lines and a blank line", () => {
    expect(formatSseEvent({ id: "3", event: "block", data: '{"index":3}' })).toBe(
      'id: 3\nevent: block\ndata: {"index":3}\n\n',
    );
  });

  it("splits multi-line data so no line break can end the event early", () => {
    expect(formatSseEvent({ data: "a\nb\r\nc" })).toBe("data: a\ndata: b\ndata: c\n\n");
  });

  it("writes comments and retry hints", () => {
    expect(formatSseComment("keep-alive")).toBe(": keep-alive\n\n");
    expect(formatSseComment("a\nb")).toBe(": a b\n\n");
    expect(formatSseRetry(2_000)).toBe("retry: 2000\n\n");
  });
});
