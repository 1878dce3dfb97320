import { describe, expect, it } from "vitest";
import { allPositionsLayout, gatheredLayout } from "./logit-index.ts";

describe("logit layout", () => {
  it("reads every step position of a graph without logit_index", () => {
    const layout = allPositionsLayout(2, 8, 10);
    expect(layout.logitIndex).toBeNull();
    expect(layout.perRow).toBe(8);
    expect(layout.offset(0, 0)).toBe(0);
    expect(layout.offset(1, 3)).toBe((8 + 3) * 10);
    expect(() => layout.offset(2, 0)).toThrow(RangeError);
    expect(() => layout.offset(0, 8)).toThrow(RangeError);
  });

  it("feeds the same number of positions per row, padding a short row by repeating its last index", () => {
    // row 0: first hitting in a folded step (current block at 4..7); row 1: three masked positions;
    // row 2: a clean-only row (commit), which reads no logits
    const layout = gatheredLayout([[6], [1, 2, 3], []], 5);
    expect(layout.perRow).toBe(3);
    expect(Array.from(layout.logitIndex ?? [], Number)).toEqual([6, 6, 6, 1, 2, 3, 0, 0, 0]);
    expect(layout.offset(0, 6)).toBe(0);
    expect(layout.offset(1, 1)).toBe(3 * 5);
    expect(layout.offset(1, 3)).toBe((3 + 2) * 5);
    expect(() => layout.offset(0, 5)).toThrow(/not asked for/);
    expect(() => layout.offset(2, 0)).toThrow(/not asked for/);
  });

  it("asks for one position when no row needs any (the graph needs N >= 1)", () => {
    const layout = gatheredLayout([[], []], 7);
    expect(layout.perRow).toBe(1);
    expect(Array.from(layout.logitIndex ?? [], Number)).toEqual([0, 0]);
  });

  it("maps positions given in any order to their own slot", () => {
    const layout = gatheredLayout([[9, 4, 7]], 2);
    expect(Array.from(layout.logitIndex ?? [], Number)).toEqual([9, 4, 7]);
    expect([9, 4, 7].map((position) => layout.offset(0, position))).toEqual([0, 2, 4]);
  });
});
