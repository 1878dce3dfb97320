/**
 * Temperature softmax statistics of one position, computed without normalising the whole vocabulary:
 * weights are exp((logit - maxLogit) / T), so the top token has weight 1 and its probability is 1 / Z.
 * The same pass builds a histogram of the probability mass by "nats below the top token", which is what the
 * nucleus selection needs to find its cut without sorting the vocabulary.
 */

/** Histogram resolution: 64 buckets per nat, 32 nats; weights beyond e^-32 fall into the last bucket. */
export const BUCKETS_PER_NAT = 64;
export const NUM_BUCKETS = 64 * 32;

/** Reusable buffers for one vocabulary size; one per engine (the sampler runs on one thread). */
export interface SoftmaxScratch {
  /** Unnormalised weights per token id ([MASK] has weight 0). */
  weights: Float64Array;
  /** Histogram bucket of each token id. */
  buckets: Uint16Array;
  bucketMass: Float64Array;
  /** Candidate ids / weights collected by the nucleus selection. */
  candidateIds: Int32Array;
  candidateWeights: Float64Array;
  boundary: Float64Array;
  /** Buckets [0, usedBuckets) may hold mass: only those are cleared and scanned (small vocabularies). */
  usedBuckets: number;
}

export function createSoftmaxScratch(vocabSize: number): SoftmaxScratch {
  return {
    weights: new Float64Array(vocabSize),
    buckets: new Uint16Array(vocabSize),
    bucketMass: new Float64Array(NUM_BUCKETS),
    candidateIds: new Int32Array(vocabSize),
    candidateWeights: new Float64Array(vocabSize),
    boundary: new Float64Array(vocabSize),
    usedBuckets: NUM_BUCKETS,
  };
}

export interface SoftmaxStats {
  /** Sum of the weights: the top token's probability is 1 / sumWeights. */
  sumWeights: number;
}

/**
 * Fills `scratch.weights`, `scratch.buckets` and `scratch.bucketMass` for the logits of one position.
 * `inverseTemperature` is 1 / T (T > 0); [MASK] gets weight 0 (SUBS).
 */
/** exp(-k / BUCKETS_PER_NAT) for every bucket start. */
const BUCKET_START_WEIGHT = Float64Array.from({ length: NUM_BUCKETS }, (_, k) => Math.exp(-k / BUCKETS_PER_NAT));

/**
 * exp(-gap) for gap >= 0 whose bucket is `bucket`: the bucket start's weight times a 4th-order Taylor term for
 * the remainder r < 1/64 (relative error < 1e-11), several times faster than Math.exp. Tokens more than 32
 * tempered nats below the top get weight 0: together they hold under 50k * e^-32 < 1e-9 of the mass.
 */
export function weightOf(gap: number, bucket: number): number {
  return bucket >= NUM_BUCKETS - 1 ? 0 : bucketWeight(gap, bucket);
}

/** weightOf for a bucket below the last one (the hot loops test that themselves). */
function bucketWeight(gap: number, bucket: number): number {
  const r = gap - bucket / BUCKETS_PER_NAT;
  return (BUCKET_START_WEIGHT[bucket] as number) * (1 - r * (1 - r * (0.5 - r * (1 / 6 - r / 24))));
}

export function temperedSoftmax(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  maskTokenId: number,
  maxLogit: number,
  inverseTemperature: number,
  scratch: SoftmaxScratch,
): SoftmaxStats {
  const { weights, buckets, bucketMass } = scratch;
  bucketMass.fill(0, 0, scratch.usedBuckets);
  const state = { sumWeights: 0, highestBucket: -1 };
  // Two ranges around [MASK] instead of a test per token; the summation order is the same as one loop
  // that skips it, so sums (and thus draws) are bit-identical.
  softmaxRange(logits, offset, 0, Math.min(maskTokenId, vocabSize), maxLogit, inverseTemperature, scratch, state);
  if (maskTokenId >= 0 && maskTokenId < vocabSize) {
    // SUBS: [MASK] has no mass (its logit may even exceed the max, which excludes it).
    weights[maskTokenId] = 0;
    buckets[maskTokenId] = NUM_BUCKETS - 1;
  }
  softmaxRange(logits, offset, Math.max(0, maskTokenId + 1), vocabSize, maxLogit, inverseTemperature, scratch, state);
  scratch.usedBuckets = state.highestBucket + 1;
  return { sumWeights: state.sumWeights };
}

/**
 * The softmax pass over token ids [from, to). The hot loop of sampling (50k tokens per position on GPT-2's
 * vocabulary): the last-bucket test is done once per token here, so the weight is `bucketWeight` (weightOf without
 * it) and the bucket `scaled | 0` (scaled is in [0, lastBucket) there); the arithmetic is exactly weightOf's.
 */
function softmaxRange(
  logits: Float32Array,
  offset: number,
  from: number,
  to: number,
  maxLogit: number,
  inverseTemperature: number,
  scratch: SoftmaxScratch,
  state: { sumWeights: number; highestBucket: number },
): void {
  const { weights, buckets, bucketMass } = scratch;
  const lastBucket = NUM_BUCKETS - 1;
  let { sumWeights, highestBucket } = state;
  for (let v = from; v < to; v++) {
    // gap >= 0 in tempered nats below the top token; NaN / -Infinity logits land in the last bucket.
    const gap = (maxLogit - (logits[offset + v] as number)) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    if (!(scaled < lastBucket)) {
      weights[v] = 0;
      buckets[v] = lastBucket;
      continue;
    }
    const bucket = scaled | 0;
    const weight = bucketWeight(gap, bucket);
    weights[v] = weight;
    buckets[v] = bucket;
    if (bucket > highestBucket) highestBucket = bucket;
    bucketMass[bucket] = (bucketMass[bucket] as number) + weight;
    sumWeights += weight;
  }
  state.sumWeights = sumWeights;
  state.highestBucket = highestBucket;
}

/** Only the sum of the weights (the top token's probability is 1 / sum): what confidence ranking needs. */
export function temperedWeightSum(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  maskTokenId: number,
  maxLogit: number,
  inverseTemperature: number,
): number {
  const end = Math.min(maskTokenId, vocabSize);
  let sumWeights = weightSumRange(logits, offset, 0, end, maxLogit, inverseTemperature, 0);
  sumWeights = weightSumRange(
    logits,
    offset,
    Math.max(0, maskTokenId + 1),
    vocabSize,
    maxLogit,
    inverseTemperature,
    sumWeights,
  );
  return sumWeights;
}

function weightSumRange(
  logits: Float32Array,
  offset: number,
  from: number,
  to: number,
  maxLogit: number,
  inverseTemperature: number,
  initial: number,
): number {
  const lastBucket = NUM_BUCKETS - 1;
  let sumWeights = initial;
  for (let v = from; v < to; v++) {
    const gap = (maxLogit - (logits[offset + v] as number)) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    if (!(scaled < lastBucket)) continue;
    sumWeights += bucketWeight(gap, scaled | 0);
  }
  return sumWeights;
}
