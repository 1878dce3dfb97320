import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allPositionsLayout, gatheredLayout } from "./logit-index.ts";

describe("logit layout", () => {
  it("reads every step position of a graph without logit_index", () => {
    const layout = allPositionsLayout(2, 8, 10);
    expect(layout.logitIndex).toBeNull();
    expect(layout.numRows).toBe(16);
    expect(layout.offset(0, 0)).toBe(0);
    expect(layout.row(1, 3)).toBe(8 + 3);
    expect(layout.offset(1, 3)).toBe((8 + 3) * 10);
    expect(() => layout.offset(2, 0)).toThrow(RangeError);
    expect(() => layout.offset(0, 8)).toThrow(RangeError);
  });

  it("asks for exactly the positions the rows read, flat (row * Q + position), none padded", () => {
    // step of 8 positions; row 0: first hitting in a folded step (current block at 4..7); row 1: three masked
    // positions; row 2: a clean-only row (commit), which reads no logits
    const layout = gatheredLayout([[6], [1, 2, 3], []], 8, 5);
    expect(layout.numRows).toBe(4);
    expect(Array.from(layout.logitIndex ?? [], Number)).toEqual([6, 8 + 1, 8 + 2, 8 + 3]);
    expect(layout.offset(0, 6)).toBe(0);
    expect(layout.row(1, 1)).toBe(1);
    expect(layout.offset(1, 3)).toBe(3 * 5);
    expect(() => layout.offset(0, 5)).toThrow(/not asked for/);
    expect(() => layout.offset(2, 0)).toThrow(/not asked for/);
    expect(() => gatheredLayout([[8]], 8, 5)).toThrow(RangeError);
  });

  it("asks for one position when no row needs any (the graph needs M >= 1)", () => {
    const layout = gatheredLayout([[], []], 4, 7);
    expect(layout.numRows).toBe(1);
    expect(Array.from(layout.logitIndex ?? [], Number)).toEqual([0]);
  });

  it("maps every asked position, in any order and with duplicates, to the row holding its logits", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.array(fc.nat(11), { maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        (stepLength, asked) => {
          const needed = asked.map((positions) => positions.filter((position) => position < stepLength));
          const layout = gatheredLayout(needed, stepLength, 3);
          const index = Array.from(layout.logitIndex ?? [], Number);
          const distinct = needed.reduce((sum, positions) => sum + new Set(positions).size, 0);
          expect(layout.numRows).toBe(Math.max(1, distinct));
          needed.forEach((positions, r) => {
            for (const position of positions) {
              expect(index[layout.row(r, position)]).toBe(r * stepLength + position);
              expect(layout.offset(r, position)).toBe(layout.row(r, position) * 3);
            }
          });
        },
      ),
    );
  });
});
