/**
 * Seeded random numbers for one output block. Every block of a request gets its own generator derived from
 * (seed, output block index), so a request resumed at block k draws exactly what one uninterrupted run drew.
 * The generator is xoshiro128** seeded through splitmix32; it is small, fast and identical on every platform.
 */

/** Randomness one block consumes; fixtures replace it with recorded noise. */
export interface BlockRandomness {
  /** Uniform in [0, 1). */
  uniform(): number;
  /**
   * Recorded Exp(1) noise (replays of the reference sampler): when present, tokens are drawn by the race over
   * it, called once per nucleus member in ascending token id order, for each revealed position in ascending
   * position order. Live randomness leaves it out and draws each revealed position's token from one `uniform()`
   * (inverse CDF), in ascending position order after the step's choice.
   */
  exponential?(position: number, tokenId: number): number;
  /** Optional override of the first-hitting choice (fixtures record which position was revealed). */
  choosePosition?(maskedPositions: readonly number[]): number;
}

const TWO_POW_32 = 4_294_967_296;
const TWO_POW_53 = 9_007_199_254_740_992;

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** xoshiro128**: 128-bit state, 32-bit outputs. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seedWords: readonly number[]) {
    let state = 0;
    const words: number[] = [];
    for (const word of seedWords) state = (state ^ Math.imul(word | 0, 0x27d4eb2d)) | 0;
    for (let i = 0; i < 4; i++) {
      const seedWord = seedWords[i % seedWords.length] ?? 0;
      const [next, out] = splitmix32((state + Math.imul(seedWord | 0, 0x165667b1) + i) | 0);
      state = next;
      words.push(out);
    }
    this.s0 = words[0] ?? 1;
    this.s1 = words[1] ?? 2;
    this.s2 = words[2] ?? 3;
    this.s3 = words[3] ?? 4;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67_108_864 + low) / TWO_POW_53;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The live randomness of output block `blockIndex` of a request seeded with `seed` (uint32). */
export function createBlockRandomness(seed: number, blockIndex: number): BlockRandomness {
  const seedLow = seed >>> 0;
  const seedHigh = Math.floor(seed / TWO_POW_32) >>> 0;
  const rng = new Xoshiro128([seedLow, seedHigh, blockIndex >>> 0, 0x62643364]);
  return { uniform: () => rng.nextFloat() };
}
