/**
 * One instance of the softmax kernel (softmax-kernel.wat): a WebAssembly memory laid out for one vocabulary
 * size, with typed-array views on its regions and the three loops that touch every token of a position.
 *
 * State: the memory holds the bucket-start weight table, the bucket masses, and per token its bucket, its
 * in-bucket weight factor, the logits row being sampled (copied in) and a list of token ids. Lifecycle: one
 * per SoftmaxScratch, i.e. per sampling thread; the memory is sized once and never grows, so the views stay
 * valid. Trade-off: each position's logits row is copied into the memory (about 10 us for 50k tokens) so the
 * kernel can read it with vector loads; the SIMD pass is several times faster than the JIT's scalar loop.
 */
import { readFileSync } from "node:fs";

/** The histogram the kernel builds (constants of softmax-kernel.wat): 64 buckets per nat, 32 nats. */
export const BUCKETS_PER_NAT = 64;
export const NUM_BUCKETS = 64 * 32;

/** The kernel works on runs of 8 tokens (eight uint16 buckets per compare); rows are padded with NaN logits. */
const TOKENS_PER_VECTOR = 8;
const WASM_PAGE_BYTES = 65_536;

interface KernelExports {
  memory: WebAssembly.Memory;
  weigh(
    logits: number,
    count: number,
    maxLogit: number,
    inverseTemperature: number,
    fractions: number,
    buckets: number,
  ): void;
  accumulate(fractions: number, buckets: number, count: number, table: number, mass: number): number;
  collect(buckets: number, count: number, bucket: number, ids: number): number;
}

let compiled: WebAssembly.Module | undefined;

function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(new URL("./softmax-kernel.wasm", import.meta.url)));
  return compiled;
}

export interface SoftmaxKernel {
  bucketMass: Float64Array;
  /** Bucket of each token id (length vocabSize). */
  buckets: Uint16Array;
  /** weight(v) = table[buckets[v]] * fractions[v] (0 for tokens without weight). */
  fractions: Float64Array;
  /** Token ids found by `collect`. */
  ids: Int32Array;
  /**
   * Copies `logits[offset .. offset + vocabSize)` in ([MASK] replaced by NaN: no weight), fills `buckets` and
   * `fractions`, adds every weight to `bucketMass` (which the caller clears) and returns their sum, all in
   * token order.
   */
  pass(logits: Float32Array, offset: number, maskTokenId: number, maxLogit: number, inverseTemperature: number): number;
  /** Lists the ids of bucket `bucket` into `ids`, ascending; returns how many. */
  collect(bucket: number): number;
}

/** `bucketStartWeight`: the weight of each bucket's start, exp(-bucket / BUCKETS_PER_NAT) (NUM_BUCKETS). */
export function createSoftmaxKernel(vocabSize: number, bucketStartWeight: Float64Array): SoftmaxKernel {
  const paddedTokens = Math.ceil(vocabSize / TOKENS_PER_VECTOR) * TOKENS_PER_VECTOR;
  // Regions in bytes, each a multiple of 16 (vector alignment): table, masses, buckets, fractions, logits, ids.
  const tableAt = 0;
  const massAt = tableAt + NUM_BUCKETS * 8;
  const bucketsAt = massAt + NUM_BUCKETS * 8;
  const fractionsAt = bucketsAt + paddedTokens * 2;
  const logitsAt = fractionsAt + paddedTokens * 8;
  const idsAt = logitsAt + paddedTokens * 4;
  const totalBytes = idsAt + paddedTokens * 4;

  const instance = new WebAssembly.Instance(kernelModule(), {});
  const exports = instance.exports as unknown as KernelExports;
  const { memory } = exports;
  const missingPages = Math.ceil(totalBytes / WASM_PAGE_BYTES) - memory.buffer.byteLength / WASM_PAGE_BYTES;
  if (missingPages > 0) memory.grow(missingPages);
  const { buffer } = memory;
  const logitsIn = new Float32Array(buffer, logitsAt, paddedTokens);
  logitsIn.fill(Number.NaN, vocabSize);

  new Float64Array(buffer, tableAt, NUM_BUCKETS).set(bucketStartWeight);

  return {
    bucketMass: new Float64Array(buffer, massAt, NUM_BUCKETS),
    buckets: new Uint16Array(buffer, bucketsAt, vocabSize),
    fractions: new Float64Array(buffer, fractionsAt, vocabSize),
    ids: new Int32Array(buffer, idsAt, vocabSize),
    pass(logits, offset, maskTokenId, maxLogit, inverseTemperature) {
      logitsIn.set(logits.subarray(offset, offset + vocabSize));
      if (maskTokenId >= 0 && maskTokenId < vocabSize) logitsIn[maskTokenId] = Number.NaN;
      exports.weigh(logitsAt, paddedTokens, maxLogit, inverseTemperature, fractionsAt, bucketsAt);
      return exports.accumulate(fractionsAt, bucketsAt, vocabSize, tableAt, massAt);
    },
    collect(bucket) {
      return exports.collect(bucketsAt, paddedTokens, bucket, idsAt);
    },
  };
}
