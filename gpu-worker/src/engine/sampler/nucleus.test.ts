import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { collectNucleus, findNucleusCut } from "./nucleus.ts";
import { createSoftmaxScratch, temperedSoftmax } from "./softmax.ts";
import { subsPeak } from "./subs.ts";

/** The reference sampler's nucleus: sort descending, keep while the cumulative mass <= top_p, keep the first. */
function referenceNucleus(logits: number[], maskTokenId: number, temperature: number, topP: number): number[] {
  const max = Math.max(...logits.filter((_, v) => v !== maskTokenId));
  const weights = logits.map((logit, v) => (v === maskTokenId ? 0 : Math.exp((logit - max) / temperature)));
  const total = weights.reduce((a, b) => a + b, 0);
  if (topP >= 1) return weights.flatMap((w, v) => (w > 0 ? [v] : []));
  const order = weights.map((_, v) => v).sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b);
  const kept: number[] = [];
  let cumulative = 0;
  order.forEach((v, rank) => {
    if (weights[v] === 0) return;
    cumulative += (weights[v] as number) / total;
    if (cumulative <= topP || rank === 0) kept.push(v);
  });
  return kept.sort((a, b) => a - b);
}

function nucleusOf(logits: number[], maskTokenId: number, temperature: number, topP: number): number[] {
  const vocabSize = logits.length;
  const scratch = createSoftmaxScratch(vocabSize);
  const array = Float32Array.from(logits);
  const peak = subsPeak(array, 0, vocabSize, maskTokenId);
  const pass = temperedSoftmax(array, 0, vocabSize, maskTokenId, peak.maxLogit, 1 / temperature, scratch);
  const nucleus = collectNucleus(
    pass,
    findNucleusCut(pass, topP, () => peak.argmax, scratch),
    scratch,
  );
  return Array.from(scratch.candidateIds.subarray(0, nucleus.count));
}

describe("nucleus selection without a full sort", () => {
  it("keeps the largest prefix whose mass stays within top_p, and at least the top token", () => {
    // probabilities 0.5, 0.3, 0.15, 0.05 (token 4 is [MASK] with a huge logit that SUBS removes)
    const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05), 50];
    expect(nucleusOf(logits, 4, 1, 0.9)).toEqual([0, 1]);
    expect(nucleusOf(logits, 4, 1, 0.96)).toEqual([0, 1, 2]);
    expect(nucleusOf(logits, 4, 1, 0.4)).toEqual([0]);
    expect(nucleusOf(logits, 4, 1, 1)).toEqual([0, 1, 2, 3]);
  });

  it("matches the sorted reference on random logits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -12, max: 12, noNaN: true }), { minLength: 2, maxLength: 300 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.constantFrom(0.5, 1, 1.7),
        (values, topP, temperature) => {
          const logits = Array.from(Float32Array.from(values));
          const maskTokenId = logits.length - 1;
          const expected = referenceNucleus(logits, maskTokenId, temperature, topP);
          const actual = nucleusOf(logits, maskTokenId, temperature, topP);
          // Same mass (members tied to within float rounding may swap), or one member whose cumulative mass
          // lands within float rounding of top_p falls on the other side.
          const weights = logits.map((l, v) => (v === maskTokenId ? 0 : Math.exp(l / temperature)));
          const total = weights.reduce((a, b) => a + b, 0);
          const massOf = (ids: number[]) => ids.reduce((sum, v) => sum + (weights[v] as number), 0) / total;
          const sameMass = Math.abs(massOf(actual) - massOf(expected)) < 1e-9 && actual.length === expected.length;
          const boundary =
            Math.abs(actual.length - expected.length) === 1 &&
            Math.abs(Math.max(massOf(actual), massOf(expected)) - topP) < 1e-5;
          expect(sameMass || boundary).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("handles a flat 50k vocabulary where the nucleus is most of it", () => {
    const vocabSize = 50_258;
    const logits = Array.from({ length: vocabSize }, (_, v) => Math.sin(v) * 0.01);
    const nucleus = nucleusOf(logits, vocabSize - 1, 1, 0.9);
    expect(nucleus.length).toBeGreaterThan(0.85 * vocabSize);
    expect(nucleus.length).toBeLessThan(0.95 * vocabSize);
  });
});
