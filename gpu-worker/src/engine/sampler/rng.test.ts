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

  it("produces 32-bit outputs from any seed words, zeros included", () => {
    const rng = new Xoshiro128([0, 0, 0, 0]);
    const values = new Set(Array.from({ length: 100 }, () => rng.nextUint32()));
    expect(values.size).toBe(100);
    for (const value of values) expect(value).toBeLessThan(2 ** 32);
  });
});
