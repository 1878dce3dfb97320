import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRevealStrategy, ddpmRevealGroups, pickConfident } from "./reveal.ts";
import { createBlockRandomness } from "./rng.ts";

describe("reveal strategies", () => {
  it("first hitting reveals exactly one masked position per step", () => {
    const strategy = createRevealStrategy({ strategy: "first_hitting", stepsPerBlock: 16, confidenceThreshold: 0.9 });
    const randomness = createBlockRandomness(3, 0);
    let masked = [0, 1, 2, 3, 4, 5];
    const order: number[] = [];
    while (masked.length > 0) {
      const chosen = strategy.choose(masked, randomness);
      expect(chosen).toHaveLength(1);
      expect(masked).toContain(chosen[0]);
      order.push(chosen[0] as number);
      masked = masked.filter((position) => position !== chosen[0]);
    }
    expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("ddpm partitions the positions into at most k non-empty steps", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 32 }), fc.integer(), (n, k, seed) => {
        const randomness = createBlockRandomness(seed >>> 0, 0);
        const positions = Array.from({ length: n }, (_, i) => i);
        const groups = ddpmRevealGroups(positions, k, () => randomness.uniform());
        expect(groups.length).toBeLessThanOrEqual(k);
        expect(groups.every((group) => group.length > 0)).toBe(true);
        expect(groups.flat().sort((a, b) => a - b)).toEqual(positions);
      }),
    );
  });

  it("ddpm finishes a block in at most k steps", () => {
    const strategy = createRevealStrategy({ strategy: "ddpm", stepsPerBlock: 4, confidenceThreshold: 0.9 });
    const randomness = createBlockRandomness(9, 2);
    let masked = Array.from({ length: 16 }, (_, i) => i);
    let steps = 0;
    while (masked.length > 0) {
      const chosen = strategy.choose(masked, randomness);
      masked = masked.filter((position) => !chosen.includes(position));
      steps++;
    }
    expect(steps).toBeLessThanOrEqual(4);
  });

  it("confidence reveals everything above the threshold, and enough to finish in k steps", () => {
    const confidences = Float64Array.of(0.99, 0.2, 0.96, 0.5, 0.1, 0.3, 0.97, 0.4);
    expect(pickConfident([0, 1, 2, 3, 4, 5, 6, 7], confidences, 0.95, 1)).toEqual([0, 2, 6]);
    expect(pickConfident([1, 3, 4, 5, 7], confidences, 0.95, 1)).toEqual([3]);
    expect(pickConfident([1, 3, 4, 5, 7], confidences, 0.95, 3)).toEqual([3, 5, 7]);

    const strategy = createRevealStrategy({ strategy: "confidence", stepsPerBlock: 2, confidenceThreshold: 0.95 });
    const randomness = createBlockRandomness(1, 0);
    const first = strategy.choose([1, 3, 4, 5, 7], randomness, confidences);
    expect(first).toEqual([3, 5, 7]);
    expect(strategy.choose([1, 4], randomness, confidences)).toEqual([1, 4]);
  });
});
