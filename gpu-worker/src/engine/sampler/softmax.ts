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
function weightOf(gap: number, bucket: number): number {
  if (bucket >= NUM_BUCKETS - 1) return 0;
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
  const lastBucket = NUM_BUCKETS - 1;
  let sumWeights = 0;
  let highestBucket = -1;
  for (let v = 0; v < vocabSize; v++) {
    if (v === maskTokenId) {
      // SUBS: [MASK] has no mass (its logit may even exceed the max, which excludes it).
      weights[v] = 0;
      buckets[v] = lastBucket;
      continue;
    }
    // gap >= 0 in tempered nats below the top token; NaN / -Infinity logits land in the last bucket.
    const gap = (maxLogit - (logits[offset + v] as number)) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    const bucket = scaled < lastBucket ? Math.floor(scaled) : lastBucket;
    const weight = weightOf(gap, bucket);
    weights[v] = weight;
    buckets[v] = bucket;
    if (bucket === lastBucket) continue;
    if (bucket > highestBucket) highestBucket = bucket;
    bucketMass[bucket] = (bucketMass[bucket] as number) + weight;
    sumWeights += weight;
  }
  scratch.usedBuckets = highestBucket + 1;
  return { sumWeights };
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
  const lastBucket = NUM_BUCKETS - 1;
  let sumWeights = 0;
  for (let v = 0; v < vocabSize; v++) {
    if (v === maskTokenId) continue;
    const gap = (maxLogit - (logits[offset + v] as number)) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    sumWeights += weightOf(gap, scaled < lastBucket ? Math.floor(scaled) : lastBucket);
  }
  return sumWeights;
}
