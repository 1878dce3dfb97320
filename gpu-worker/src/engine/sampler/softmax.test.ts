import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BUCKETS_PER_NAT,
  bucketMembers,
  createSoftmaxScratch,
  NUM_BUCKETS,
  temperedSoftmax,
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
          const bucketMass = new Float64Array(NUM_BUCKETS);
          expected.buckets.forEach((bucket, v) => {
            bucketMass[bucket] = (bucketMass[bucket] as number) + (expected.weights[v] as number);
          });
          expect(Array.from(scratch.bucketMass)).toEqual(Array.from(bucketMass));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("matches the specification on a GPT-2-sized row read at an offset, pass after pass on one scratch", () => {
    const vocabSize = 50_258;
    const rows = 3;
    const logits = new Float32Array(vocabSize * rows);
    let state = 12_345;
    for (let i = 0; i < logits.length; i++) {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      logits[i] = (state / 2 ** 32) * 24 - 12; // a spread of 24 nats: up to ~1500 buckets in use
    }
    const scratch = createSoftmaxScratch(vocabSize);
    for (const [row, temperature, maskTokenId] of [
      [2, 1, 50_257],
      [0, 0.7, 3],
      [1, 1.9, 25_000],
    ] as const) {
      const rowLogits = logits.subarray(row * vocabSize, (row + 1) * vocabSize);
      let maxLogit = Number.NEGATIVE_INFINITY;
      rowLogits.forEach((l, v) => {
        if (v !== maskTokenId && l > maxLogit) maxLogit = l;
      });
      const expected = referencePass(rowLogits, maskTokenId, maxLogit, 1 / temperature);
      const pass = temperedSoftmax(logits, row * vocabSize, vocabSize, maskTokenId, maxLogit, 1 / temperature, scratch);
      expect(pass.sumWeights).toBe(expected.sum);
      expect(Array.from(scratch.buckets)).toEqual(expected.buckets);
      for (let v = 0; v < vocabSize; v += 97) expect(weightAt(pass, v)).toBe(expected.weights[v]);
      // Buckets above the highest one in use are clear, so the cut never reads a previous pass's mass.
      const highest = Math.max(...expected.buckets.filter((bucket) => bucket < NUM_BUCKETS - 1));
      expect(scratch.usedBuckets).toBe(highest + 1);
      expect(scratch.bucketMass.subarray(highest + 1).every((mass) => mass === 0)).toBe(true);
    }
  });

  it("lists a bucket's members in ascending id", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -3, max: 0, noNaN: true }), { minLength: 1, maxLength: 70 }), (values) => {
        const logits = Float32Array.from(values);
        const scratch = createSoftmaxScratch(logits.length);
        temperedSoftmax(logits, 0, logits.length, -1, 0, 1, scratch);
        for (const bucket of new Set(scratch.buckets)) {
          const count = bucketMembers(scratch, bucket);
          const expected = Array.from(scratch.buckets.keys()).filter((v) => scratch.buckets[v] === bucket);
          expect(Array.from(scratch.kernel.ids.subarray(0, count))).toEqual(expected);
        }
      }),
      { numRuns: 200 },
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
