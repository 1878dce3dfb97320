import { describe, expect, it } from "vitest";
import { raceDraw } from "./draw.ts";
import { createBlockRandomness } from "./rng.ts";
import { createSoftmaxScratch } from "./softmax.ts";

describe("exponential race", () => {
  it("picks the member with the largest weight / noise", () => {
    const scratch = createSoftmaxScratch(4);
    scratch.candidateIds.set([0, 2, 3]);
    scratch.candidateWeights.set([1, 0.5, 0.25]);
    const noise = new Map([
      [0, 4],
      [2, 1],
      [3, 2],
    ]);
    expect(raceDraw(3, scratch, (id) => noise.get(id) as number)).toBe(2);
  });

  it("draws in proportion to the weights", () => {
    const scratch = createSoftmaxScratch(3);
    scratch.candidateIds.set([0, 1, 2]);
    scratch.candidateWeights.set([0.6, 0.3, 0.1]);
    const randomness = createBlockRandomness(1, 0);
    const counts = [0, 0, 0];
    const n = 30_000;
    for (let i = 0; i < n; i++) {
      const token = raceDraw(3, scratch, (id) => randomness.exponential(0, id));
      counts[token] = (counts[token] as number) + 1;
    }
    expect((counts[0] as number) / n).toBeCloseTo(0.6, 1);
    expect((counts[1] as number) / n).toBeCloseTo(0.3, 1);
    expect((counts[2] as number) / n).toBeCloseTo(0.1, 1);
  });
});
