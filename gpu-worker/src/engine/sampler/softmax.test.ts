import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BUCKETS_PER_NAT,
  createSoftmaxScratch,
  NUM_BUCKETS,
  temperedSoftmax,
  temperedWeightSum,
  weightAt,
  weightOf,
} from "./softmax.ts";

/** The pass as specified: one loop in token order, [MASK] skipped, each weight from weightOf. */
function referencePass(logits: Float32Array, maskTokenId: number, maxLogit: number, inverseTemperature: number) {
  const lastBucket = NUM_BUCKETS - 1;
  const weights: number[] = [];
  const buckets: number[] = [];
  let sum = 0;
  logits.forEach((logit, v) => {
    if (v === maskTokenId) {
      weights.push(0);
      buckets.push(lastBucket);
      return;
    }
    const gap = (maxLogit - logit) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    const bucket = scaled < lastBucket ? Math.floor(scaled) : lastBucket;
    const weight = weightOf(gap, bucket);
    weights.push(weight);
    buckets.push(bucket);
    if (bucket !== lastBucket) sum += weight;
  });
  return { weights, buckets, sum };
}

describe("tempered softmax pass", () => {
  it("gives exactly the specified weights, buckets and sum (same summation order), [MASK] anywhere", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -40, max: 40, noNaN: false }), { minLength: 2, maxLength: 300 }),
        fc.nat(),
        fc.constantFrom(0.3, 1, 2.5),
        (values, maskSeed, temperature) => {
          const logits = Float32Array.from(values);
          const maskTokenId = maskSeed % logits.length;
          let maxLogit = Number.NEGATIVE_INFINITY;
          logits.forEach((l, v) => {
            if (v !== maskTokenId && l > maxLogit) maxLogit = l;
          });
          if (!Number.isFinite(maxLogit)) maxLogit = 0;
          const expected = referencePass(logits, maskTokenId, maxLogit, 1 / temperature);
          const scratch = createSoftmaxScratch(logits.length);
          const pass = temperedSoftmax(logits, 0, logits.length, maskTokenId, maxLogit, 1 / temperature, scratch);
          expect(pass.sumWeights).toBe(expected.sum);
          expect(Array.from(logits, (_, v) => weightAt(pass, v))).toEqual(expected.weights);
          expect(Array.from(scratch.buckets)).toEqual(expected.buckets);
          expect(temperedWeightSum(logits, 0, logits.length, maskTokenId, maxLogit, 1 / temperature)).toBe(
            expected.sum,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives NaN and -Infinity logits no weight", () => {
    const logits = Float32Array.from([1, Number.NaN, Number.NEGATIVE_INFINITY, 0.5, 9]);
    const scratch = createSoftmaxScratch(logits.length);
    const pass = temperedSoftmax(logits, 0, logits.length, 4, 1, 1, scratch);
    const { sumWeights } = pass;
    expect(Array.from(logits, (_, v) => Number(weightAt(pass, v).toFixed(6)))).toEqual([
      1,
      0,
      0,
      Number(Math.exp(-0.5).toFixed(6)),
      0,
    ]);
    expect(sumWeights).toBeCloseTo(1 + Math.exp(-0.5), 9);
  });
});
