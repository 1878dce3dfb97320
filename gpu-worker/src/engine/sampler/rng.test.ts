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

  it("draws uniforms in [0, 1) with the uniform distribution", () => {
    const randomness = createBlockRandomness(7, 0);
    const n = 100_000;
    const deciles = Array.from({ length: 10 }, () => 0);
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = randomness.uniform();
      min = Math.min(min, u);
      max = Math.max(max, u);
      sum += u;
      deciles[Math.floor(u * 10)] = (deciles[Math.floor(u * 10)] as number) + 1;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / n).toBeCloseTo(0.5, 2);
    // Each decile within 5 standard deviations of n / 10 (sd = sqrt(n * 0.1 * 0.9) ~ 95).
    for (const count of deciles) expect(Math.abs(count - n / 10)).toBeLessThan(475);
  });

  it("produces 32-bit outputs from any seed words, zeros included", () => {
    const rng = new Xoshiro128([0, 0, 0, 0]);
    const values = new Set(Array.from({ length: 100 }, () => rng.nextUint32()));
    expect(values.size).toBe(100);
    for (const value of values) expect(value).toBeLessThan(2 ** 32);
  });
});
