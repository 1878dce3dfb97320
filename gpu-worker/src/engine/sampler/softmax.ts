/**
 * Temperature softmax statistics of one position, computed without normalising the whole vocabulary:
 * weights are exp((logit - maxLogit) / T), so the top token has weight 1 and its probability is 1 / Z.
 * The pass buckets every token by "nats below the top token" and sums the mass per bucket, which is all the
 * nucleus selection and the draw need to find their tokens without sorting the vocabulary. The pass itself
 * runs in the SIMD kernel (kernel/softmax-kernel.wat); `weightOf` here is its specification, which the kernel
 * follows operation for operation (the tests hold it to that bit for bit).
 */
import { BUCKETS_PER_NAT, createSoftmaxKernel, NUM_BUCKETS, type SoftmaxKernel } from "./kernel/softmax-kernel.ts";

/** Histogram resolution: 64 buckets per nat, 32 nats; weights beyond e^-32 fall into the last bucket. */
export { BUCKETS_PER_NAT, NUM_BUCKETS };
/** The last bucket holds the tokens with no weight ([MASK], NaN / -Infinity logits, > 32 nats below). */
export const LAST_BUCKET = NUM_BUCKETS - 1;
const NATS_PER_BUCKET = 1 / BUCKETS_PER_NAT; // a power of two: b * NATS_PER_BUCKET is exactly b / 64

/** exp(-k / BUCKETS_PER_NAT) for every bucket start. */
const BUCKET_START_WEIGHT = Float64Array.from({ length: NUM_BUCKETS }, (_, k) => Math.exp(-k / BUCKETS_PER_NAT));

/**
 * Reusable buffers for one vocabulary size; one per sampling thread. `buckets` and `bucketMass` (like the
 * kernel's `fractions` and `ids`) are views on the kernel's memory, valid until the next pass on this scratch.
 */
export interface SoftmaxScratch {
  kernel: SoftmaxKernel;
  /** Histogram bucket of each token id (LAST_BUCKET: no weight). */
  buckets: Uint16Array;
  bucketMass: Float64Array;
  /** Token ids / weights collected by the nucleus selection (its boundary bucket, or every member). */
  candidateIds: Int32Array;
  candidateWeights: Float64Array;
  /** Boundary weights, sorted to place the nucleus cut. */
  boundary: Float64Array;
  /** Buckets [0, usedBuckets) may hold mass: only those are cleared and scanned (small vocabularies). */
  usedBuckets: number;
}

export function createSoftmaxScratch(vocabSize: number): SoftmaxScratch {
  const kernel = createSoftmaxKernel(vocabSize, BUCKET_START_WEIGHT);
  return {
    kernel,
    buckets: kernel.buckets,
    bucketMass: kernel.bucketMass,
    candidateIds: new Int32Array(vocabSize),
    candidateWeights: new Float64Array(vocabSize),
    boundary: new Float64Array(vocabSize),
    usedBuckets: NUM_BUCKETS,
  };
}

/** One position's softmax pass: valid until the next pass on the same scratch. */
export interface SoftmaxPass {
  scratch: SoftmaxScratch;
  vocabSize: number;
  maxLogit: number;
  inverseTemperature: number;
  /** Sum of the weights: the top token's probability is 1 / sumWeights. */
  sumWeights: number;
}

/**
 * The specification of a token's weight: exp(-gap) for gap >= 0 tempered nats below the top token, whose
 * bucket is `bucket` (floor(gap * BUCKETS_PER_NAT)): the bucket start's weight times a 4th-order Taylor term
 * for the remainder r < 1/64 (relative error < 1e-11). Tokens more than 32 nats below the top get weight 0:
 * together they hold under 50k * e^-32 < 1e-9 of the mass.
 */
export function weightOf(gap: number, bucket: number): number {
  if (bucket >= LAST_BUCKET) return 0;
  const r = gap - bucket * NATS_PER_BUCKET;
  return (
    (BUCKET_START_WEIGHT[bucket] as number) *
    (1 - r * (1 - r * (0.5 - r * (0.16666666666666666 - r * 0.041666666666666664))))
  );
}

/** The weight token `tokenId` got in `pass` (0 for [MASK]); identical to what the pass summed. */
export function weightAt(pass: SoftmaxPass, tokenId: number): number {
  const { buckets, kernel } = pass.scratch;
  const bucket = buckets[tokenId] as number;
  return bucket < LAST_BUCKET ? (BUCKET_START_WEIGHT[bucket] as number) * (kernel.fractions[tokenId] as number) : 0;
}

/**
 * Fills `scratch.buckets` and `scratch.bucketMass` for the logits of one position.
 * `inverseTemperature` is 1 / T (T > 0); [MASK] gets weight 0 (SUBS).
 */
export function temperedSoftmax(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  maskTokenId: number,
  maxLogit: number,
  inverseTemperature: number,
  scratch: SoftmaxScratch,
): SoftmaxPass {
  const { bucketMass } = scratch;
  bucketMass.fill(0, 0, scratch.usedBuckets);
  const sumWeights = scratch.kernel.pass(logits, offset, maskTokenId, maxLogit, inverseTemperature);
  // Every bucket below the last that holds a token has mass > 0 (its start weight is >= e^-32).
  let usedBuckets = LAST_BUCKET;
  while (usedBuckets > 0 && (bucketMass[usedBuckets - 1] as number) === 0) usedBuckets--;
  scratch.usedBuckets = usedBuckets;
  return { scratch, vocabSize, maxLogit, inverseTemperature, sumWeights };
}

/**
 * Lists the ids of bucket `bucket` of the last pass into `scratch.kernel.ids`, ascending; returns how many.
 */
export function bucketMembers(scratch: SoftmaxScratch, bucket: number): number {
  return scratch.kernel.collect(bucket);
}
