import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatOffset, parseOffset, ZERO_OFFSET } from "./offsets.ts";

describe("stream offsets", () => {
  it("round-trips positions and sorts as strings in position order", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 52 }), fc.nat({ max: 2 ** 52 }), (a, b) => {
        expect(parseOffset(formatOffset(a))).toEqual({ kind: "position", position: a });
        expect(Math.sign(formatOffset(a).localeCompare(formatOffset(b), "en"))).toBe(Math.sign(a - b));
      }),
    );
  });

  it("knows the sentinels and the zero offset", () => {
    expect(parseOffset("-1")).toEqual({ kind: "start" });
    expect(parseOffset("now")).toEqual({ kind: "now" });
    expect(ZERO_OFFSET).toBe("0000000000000000_0000000000000000");
  });

  it.each(["", "12", "0000000000000000_000000000000001", "0000000000000001_0000000000000000", "a,b", "-2"])(
    "refuses %j",
    (raw) => {
      expect(parseOffset(raw).kind).toBe("invalid");
    },
  );
});
