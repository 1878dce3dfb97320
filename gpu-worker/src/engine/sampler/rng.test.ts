import { describe, expect, it } from "vitest";
import { createBlockRandomness, Xoshiro128 } from "./rng.ts";

describe("block randomness", () => {
  it("repeats exactly for the same seed and block", () => {
    const a = createBlockRandomness(42, 3);
    const b = createBlockRandomness(42, 3);
    const drawsA = Array.from({ length: 50 }, () => a.uniform());
    const drawsB = Array.from({ length: 50 }, () => b.uniform());
    expect(drawsA).toEqual(drawsB);
  });

  it("differs between blocks and between seeds", () => {
    const first = createBlockRandomness(42, 3).uniform();
    expect(createBlockRandomness(42, 4).uniform()).not.toBe(first);
    expect(createBlockRandomness(43, 3).uniform()).not.toBe(first);
    expect(createBlockRandomness(0xffff_ffff, 0).uniform()).not.toBe(createBlockRandomness(0, 0).uniform());
  });

  it("draws uniforms in [0, 1) and Exp(1) noise with mean 1", () => {
    const randomness = createBlockRandomness(7, 0);
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const u = randomness.uniform();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      sum += randomness.exponential(0, i);
    }
    expect(sum / n).toBeGreaterThan(0.97);
    expect(sum / n).toBeLessThan(1.03);
  });

  it("draws Exp(1) noise with the right distribution (ziggurat)", () => {
    const randomness = createBlockRandomness(11, 5);
    const n = 100_000;
    const thresholds = [0.05, 0.5, 1, 2, 4, 8];
    const below = thresholds.map(() => 0);
    let sum = 0;
    let sumSquares = 0;
    for (let i = 0; i < n; i++) {
      const e = randomness.exponential(0, i);
      expect(e).toBeGreaterThanOrEqual(0);
      sum += e;
      sumSquares += e * e;
      thresholds.forEach((t, k) => {
        if (e < t) below[k] = (below[k] as number) + 1;
      });
    }
    expect(sum / n).toBeCloseTo(1, 1);
    expect(sumSquares / n - (sum / n) ** 2).toBeCloseTo(1, 1);
    thresholds.forEach((t, k) => {
      expect(Math.abs((below[k] as number) / n - (1 - Math.exp(-t)))).toBeLessThan(0.006);
    });
  });

  it("produces 32-bit outputs from any seed words, zeros included", () => {
    const rng = new Xoshiro128([0, 0, 0, 0]);
    const values = new Set(Array.from({ length: 100 }, () => rng.nextUint32()));
    expect(values.size).toBe(100);
    for (const value of values) expect(value).toBeLessThan(2 ** 32);
  });
});
