import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inverseCdfDraw, raceDraw } from "./draw.ts";
import { collectNucleus, findNucleusCut } from "./nucleus.ts";
import { createBlockRandomness, Xoshiro128 } from "./rng.ts";
import { createSoftmaxScratch, type SoftmaxPass, temperedSoftmax } from "./softmax.ts";
import { subsPeak } from "./subs.ts";

function softmaxOf(logits: Float32Array, maskTokenId: number, temperature: number) {
  const scratch = createSoftmaxScratch(logits.length);
  const peak = subsPeak(logits, 0, logits.length, maskTokenId);
  const pass = temperedSoftmax(logits, 0, logits.length, maskTokenId, peak.maxLogit, 1 / temperature, scratch);
  return { scratch, pass, peak };
}

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
      const token = raceDraw(3, scratch, () => -Math.log1p(-randomness.uniform()));
      counts[token] = (counts[token] as number) + 1;
    }
    expect((counts[0] as number) / n).toBeCloseTo(0.6, 1);
    expect((counts[1] as number) / n).toBeCloseTo(0.3, 1);
    expect((counts[2] as number) / n).toBeCloseTo(0.1, 1);
  });
});

describe("inverse-CDF draw", () => {
  /**
   * u on a grid of `points` equally spaced values: each member must own a share of the grid equal to its
   * weight / nucleus mass (to within one grid step per boundary), and nothing outside the nucleus any.
   */
  function gridShares(
    pass: SoftmaxPass,
    topP: number,
    topToken: number,
    scratch: ReturnType<typeof createSoftmaxScratch>,
    points: number,
  ) {
    const counts = new Map<number, number>();
    for (let i = 0; i < points; i++) {
      const cut = findNucleusCut(pass, topP, () => topToken, scratch);
      const token = inverseCdfDraw(pass, cut, (i + 0.5) / points, scratch);
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    return counts;
  }

  it("gives every nucleus member exactly its share of [0, 1) and nothing to the rest", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -6, max: 6, noNaN: true }), { minLength: 2, maxLength: 40 }),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.constantFrom(0.5, 1, 2),
        (values, topP, temperature) => {
          const logits = Float32Array.from(values);
          const maskTokenId = logits.length - 1;
          const { scratch, pass, peak } = softmaxOf(logits, maskTokenId, temperature);
          const cut = findNucleusCut(pass, topP, () => peak.argmax, scratch);
          const nucleus = collectNucleus(pass, cut, scratch);
          const members = new Map<number, number>();
          for (let i = 0; i < nucleus.count; i++) {
            members.set(scratch.candidateIds[i] as number, (scratch.candidateWeights[i] as number) / nucleus.mass);
          }
          const points = 8_000;
          const counts = gridShares(pass, topP, peak.argmax, scratch, points);
          for (const token of counts.keys()) expect(members.has(token)).toBe(true);
          for (const [token, share] of members) {
            expect(Math.abs((counts.get(token) ?? 0) / points - share)).toBeLessThanOrEqual(2 / points + 1e-12);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("draws the top token alone when it exceeds top_p, without looking at the uniform", () => {
    const logits = Float32Array.of(Math.log(0.7), Math.log(0.2), Math.log(0.1), 9);
    const { scratch, pass, peak } = softmaxOf(logits, 3, 1);
    for (const u of [0, 0.5, 0.999]) {
      expect(
        inverseCdfDraw(
          pass,
          findNucleusCut(pass, 0.5, () => peak.argmax, scratch),
          u,
          scratch,
        ),
      ).toBe(0);
    }
  });

  it("samples a flat 50k vocabulary in proportion over its whole nucleus", () => {
    const vocabSize = 50_258;
    const rng = new Xoshiro128([5]);
    const logits = Float32Array.from({ length: vocabSize }, () => rng.nextFloat() * 2);
    const { scratch, pass, peak } = softmaxOf(logits, vocabSize - 1, 1);
    const cut = findNucleusCut(pass, 0.9, () => peak.argmax, scratch);
    const nucleus = collectNucleus(pass, cut, scratch);
    const memberIds = new Set(scratch.candidateIds.subarray(0, nucleus.count));
    // The mean logit of the drawn tokens matches the nucleus's weighted mean logit.
    let expectedMean = 0;
    for (let i = 0; i < nucleus.count; i++) {
      expectedMean +=
        ((scratch.candidateWeights[i] as number) / nucleus.mass) *
        (logits[scratch.candidateIds[i] as number] as number);
    }
    let sum = 0;
    const n = 4_000;
    for (let i = 0; i < n; i++) {
      const token = inverseCdfDraw(
        pass,
        findNucleusCut(pass, 0.9, () => peak.argmax, scratch),
        rng.nextFloat(),
        scratch,
      );
      expect(memberIds.has(token)).toBe(true);
      sum += logits[token] as number;
    }
    expect(Math.abs(sum / n - expectedMean)).toBeLessThan(0.03);
  });
});
