import { describe, expect, it } from "vitest";
import { confidenceFromStats, positionConfidence, sampleToken } from "./pipeline.ts";
import { createSoftmaxScratch } from "./softmax.ts";
import { subsPeak } from "./subs.ts";

const params = { vocabSize: 5, maskTokenId: 4, temperature: 1, topP: 1 };

describe("SUBS", () => {
  it("never picks [MASK], however large its logit", () => {
    expect(subsPeak(Float32Array.of(1, 2, 3, 0, 100), 0, 5, 4)).toEqual({ argmax: 2, maxLogit: 3 });
    expect(subsPeak(Float32Array.of(7, 2, 7, 0, 100), 0, 5, 4)).toEqual({ argmax: 0, maxLogit: 7 });
    expect(subsPeak(Float32Array.of(100, 2, 3, 9, 9), 0, 5, 0)).toEqual({ argmax: 3, maxLogit: 9 });
  });
});

describe("sampling one position", () => {
  const scratch = createSoftmaxScratch(5);

  it("is greedy at temperature 0 and draws no noise", () => {
    const logits = Float32Array.of(0, 9, 5, 1, 50, 7, 7, 7, 7, 7);
    const token = sampleToken(
      logits,
      0,
      { ...params, temperature: 0 },
      { uniform: Number.NaN }, // never read at temperature 0
      scratch,
    );
    expect(token).toBe(1);
  });

  it("reads the logits of the position at the given offset", () => {
    const logits = Float32Array.of(0, 9, 5, 1, 50, 7, 0, 0, 0, 50);
    expect(sampleToken(logits, 5, { ...params, temperature: 0 }, { uniform: 0.5 }, scratch)).toBe(0);
  });

  it("sharpens with low temperature and flattens with high temperature", () => {
    const logits = Float32Array.of(2, 1, 0, 0, 0);
    const sharp = positionConfidence(logits, 0, { ...params, temperature: 0.25 }, scratch).maxProbability;
    const base = positionConfidence(logits, 0, params, scratch).maxProbability;
    const flat = positionConfidence(logits, 0, { ...params, temperature: 2 }, scratch).maxProbability;
    expect(sharp).toBeGreaterThan(base);
    expect(base).toBeGreaterThan(flat);
    // base: e^2 / (e^2 + e + 3) with [MASK] (token 4) excluded
    expect(base).toBeCloseTo(Math.exp(2) / (Math.exp(2) + Math.exp(1) + 2), 10);
  });

  it("restricts the draw to the nucleus", () => {
    const logits = Float32Array.of(Math.log(0.7), Math.log(0.2), Math.log(0.1), -100, 0);
    for (let i = 0; i < 50; i++) {
      // noise that strongly favours token 2, which lies outside the 0.8 nucleus
      const token = sampleToken(
        logits,
        0,
        { ...params, topP: 0.8 },
        { exponential: (id) => (id === 2 ? 1e-9 : 1) },
        scratch,
      );
      expect(token).toBe(0);
    }
    // uniforms right up to 1 stay inside the nucleus {0} too (0.7 + 0.2 > 0.8)
    for (const u of [0, 0.3, 0.999_999]) {
      expect(sampleToken(logits, 0, { ...params, topP: 0.8 }, { uniform: u }, scratch)).toBe(0);
    }
  });

  it("draws live tokens by inverse CDF over the nucleus: low uniforms the heavy token, high ones the light", () => {
    const logits = Float32Array.of(Math.log(0.6), Math.log(0.3), Math.log(0.1), -100, 0);
    const draw = (u: number) => sampleToken(logits, 0, params, { uniform: u }, scratch);
    expect([0, 0.59, 0.61, 0.89, 0.91, 0.999].map(draw)).toEqual([0, 0, 1, 1, 2, 2]);
  });
});

describe("sampling with the graph's logit statistics", () => {
  const vocabSize = 300;
  const bigParams = { vocabSize, maskTokenId: vocabSize - 1, temperature: 1, topP: 0.9 };

  it("draws the same token with the graph's max as with the peak pass, for any uniform", () => {
    const scratch = createSoftmaxScratch(vocabSize);
    const logits = Float32Array.from({ length: vocabSize }, (_, v) => Math.sin(v * 1.7) * 3 + (v === 17 ? 4 : 0));
    const { maxLogit } = subsPeak(logits, 0, vocabSize, vocabSize - 1);
    for (let i = 0; i < 200; i++) {
      const u = (i + 0.5) / 200;
      const plain = sampleToken(logits, 0, bigParams, { uniform: u }, scratch);
      expect(sampleToken(logits, 0, bigParams, { uniform: u }, scratch, maxLogit)).toBe(plain);
    }
  });

  it("finds the top token itself when it alone exceeds top_p (the first of tied maxima)", () => {
    const scratch = createSoftmaxScratch(6);
    const logits = Float32Array.of(0, 30, 0, 30, 0, 99);
    const sharp = { vocabSize: 6, maskTokenId: 5, temperature: 1, topP: 0.3 };
    expect(sampleToken(logits, 0, sharp, { uniform: 0.99 }, scratch, 30)).toBe(1);
    expect(sampleToken(logits, 0, sharp, { uniform: 0.99 }, scratch)).toBe(1);
  });

  it("gives the confidence of a pass over the logits at temperature 1, and defers otherwise", () => {
    const logits = Float32Array.of(2, 1, 0.5, -1, 40);
    const { maxProbability } = positionConfidence(logits, 0, params, createSoftmaxScratch(5));
    const kept = [0, 1, 2, 3].map((v) => logits[v] as number);
    const logSumExp = Math.log(kept.reduce((sum, logit) => sum + Math.exp(logit), 0));
    expect(confidenceFromStats({ maxLogit: 2, logSumExp }, params)).toBeCloseTo(maxProbability, 12);
    expect(confidenceFromStats({ maxLogit: 2, logSumExp }, { ...params, temperature: 0.7 })).toBeNull();
    expect(confidenceFromStats({ maxLogit: Number.NaN, logSumExp }, params)).toBeNull();
  });
});
