/**
 * Temperature softmax statistics of one position, computed without normalising the whole vocabulary:
 * weights are exp((logit - maxLogit) / T), so the top token has weight 1 and its probability is 1 / Z.
 * The pass buckets every token by "nats below the top token" and sums the mass per bucket, which is all the
 * nucleus selection and the draw need to find their tokens without sorting the vocabulary. Weights are not
 * stored: the few tokens a later stage looks at get theirs recomputed by `weightAt`, bit for bit the value
 * the pass summed (storing 50k float64 weights per position cost more than recomputing a bucket's worth).
 */

/** Histogram resolution: 64 buckets per nat, 32 nats; weights beyond e^-32 fall into the last bucket. */
export const BUCKETS_PER_NAT = 64;
export const NUM_BUCKETS = 64 * 32;
/** The last bucket holds the tokens with no weight ([MASK], NaN / -Infinity logits, > 32 nats below). */
export const LAST_BUCKET = NUM_BUCKETS - 1;
const NATS_PER_BUCKET = 1 / BUCKETS_PER_NAT; // a power of two: b * NATS_PER_BUCKET is exactly b / 64

/** Reusable buffers for one vocabulary size; one per engine (the sampler runs on one thread). */
export interface SoftmaxScratch {
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
  return {
    buckets: new Uint16Array(vocabSize),
    bucketMass: new Float64Array(NUM_BUCKETS),
    candidateIds: new Int32Array(vocabSize),
    candidateWeights: new Float64Array(vocabSize),
    boundary: new Float64Array(vocabSize),
    usedBuckets: NUM_BUCKETS,
  };
}

/** One position's softmax pass: what later stages need to recompute a token's weight, and the total. */
export interface SoftmaxPass {
  logits: Float32Array;
  offset: number;
  vocabSize: number;
  maskTokenId: number;
  maxLogit: number;
  inverseTemperature: number;
  /** Sum of the weights: the top token's probability is 1 / sumWeights. */
  sumWeights: number;
}

/** exp(-k / BUCKETS_PER_NAT) for every bucket start. */
const BUCKET_START_WEIGHT = Float64Array.from({ length: NUM_BUCKETS }, (_, k) => Math.exp(-k / BUCKETS_PER_NAT));

/**
 * exp(-gap) for gap >= 0 whose bucket is `bucket`: the bucket start's weight times a 4th-order Taylor term for
 * the remainder r < 1/64 (relative error < 1e-11), several times faster than Math.exp. Tokens more than 32
 * tempered nats below the top get weight 0: together they hold under 50k * e^-32 < 1e-9 of the mass.
 */
export function weightOf(gap: number, bucket: number): number {
  return bucket >= LAST_BUCKET ? 0 : bucketWeight(gap, bucket);
}

/** weightOf for a bucket below the last one (callers test that). Multiplications only. */
function bucketWeight(gap: number, bucket: number): number {
  const r = gap - bucket * NATS_PER_BUCKET;
  return (
    (BUCKET_START_WEIGHT[bucket] as number) *
    (1 - r * (1 - r * (0.5 - r * (0.16666666666666666 - r * 0.041666666666666664))))
  );
}

/** The weight token `tokenId` got in `pass` (0 for [MASK]); identical to what the pass summed. */
export function weightAt(pass: SoftmaxPass, tokenId: number): number {
  if (tokenId === pass.maskTokenId) return 0;
  const gap = (pass.maxLogit - (pass.logits[pass.offset + tokenId] as number)) * pass.inverseTemperature;
  const scaled = gap * BUCKETS_PER_NAT;
  return scaled < LAST_BUCKET ? bucketWeight(gap, scaled | 0) : 0;
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
  scratch.bucketMass.fill(0, 0, scratch.usedBuckets);
  const state = { sumWeights: 0, highestBucket: -1 };
  // Two ranges around [MASK] instead of a test per token; the summation order is the same as one loop
  // that skips it, so sums (and thus draws) are bit-identical.
  softmaxRange(logits, offset, 0, Math.min(maskTokenId, vocabSize), maxLogit, inverseTemperature, scratch, state);
  // SUBS: [MASK] has no mass (its logit may even exceed the max, which excludes it).
  if (maskTokenId >= 0 && maskTokenId < vocabSize) scratch.buckets[maskTokenId] = LAST_BUCKET;
  softmaxRange(logits, offset, Math.max(0, maskTokenId + 1), vocabSize, maxLogit, inverseTemperature, scratch, state);
  scratch.usedBuckets = state.highestBucket + 1;
  return { logits, offset, vocabSize, maskTokenId, maxLogit, inverseTemperature, sumWeights: state.sumWeights };
}

/**
 * The softmax pass over token ids [from, to). The hot loop of sampling (50k tokens per position on GPT-2's
 * vocabulary): the last-bucket test is done once per token here, so the weight is `bucketWeight` (weightOf
 * without it) and the bucket `scaled | 0` (scaled is in [0, LAST_BUCKET) there); the arithmetic is exactly
 * weightOf's.
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
  const { buckets, bucketMass } = scratch;
  let { sumWeights, highestBucket } = state;
  for (let v = from; v < to; v++) {
    // gap >= 0 in tempered nats below the top token; NaN / -Infinity logits land in the last bucket.
    const gap = (maxLogit - (logits[offset + v] as number)) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    if (!(scaled < LAST_BUCKET)) {
      buckets[v] = LAST_BUCKET;
      continue;
    }
    const bucket = scaled | 0;
    const weight = bucketWeight(gap, bucket);
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
  const below = weightSumRange(logits, offset, 0, end, maxLogit, inverseTemperature, 0);
  return weightSumRange(logits, offset, Math.max(0, maskTokenId + 1), vocabSize, maxLogit, inverseTemperature, below);
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
  let sumWeights = initial;
  for (let v = from; v < to; v++) {
    const gap = (maxLogit - (logits[offset + v] as number)) * inverseTemperature;
    const scaled = gap * BUCKETS_PER_NAT;
    if (!(scaled < LAST_BUCKET)) continue;
    sumWeights += bucketWeight(gap, scaled | 0);
  }
  return sumWeights;
}
