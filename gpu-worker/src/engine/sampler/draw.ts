/**
 * Two exact ways to draw one token from the nucleus in proportion to the weights:
 * - `inverseCdfDraw` (live sampling): one uniform u; the token where the cumulative weight, in the order
 *   (bucket, then token id), first exceeds u * mass. The bucket masses locate the bucket, so only that bucket's
 *   tokens are visited: one uniform and a few hundred weights per position instead of an Exp(1) per member.
 * - `raceDraw` (replaying recorded noise): argmax over members of weight / E with E ~ Exp(1) per member, which
 *   is how the reference sampler draws (`probs / Exp(1)` then argmax), so its recorded noise replays exactly.
 */
import { type NucleusCut, visitBoundaryMembers } from "./nucleus.ts";
import { bucketMembers, type SoftmaxPass, type SoftmaxScratch, weightAt } from "./softmax.ts";

export type ExponentialNoise = (tokenId: number) => number;

export function raceDraw(count: number, scratch: SoftmaxScratch, noise: ExponentialNoise): number {
  const { candidateIds, candidateWeights } = scratch;
  let best = candidateIds[0] as number;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const tokenId = candidateIds[i] as number;
    const score = (candidateWeights[i] as number) / noise(tokenId);
    if (score > bestScore) {
      bestScore = score;
      best = tokenId;
    }
  }
  return best;
}

/** `uniform` in [0, 1). */
export function inverseCdfDraw(pass: SoftmaxPass, cut: NucleusCut, uniform: number, scratch: SoftmaxScratch): number {
  if (cut.topOnly >= 0) return cut.topOnly;
  const { bucketMass, buckets } = scratch;
  const target = uniform * cut.mass;
  // The buckets below the cut, summed in the same order as the cut's massBefore (so they agree bit for bit).
  const wholeBuckets = Math.min(cut.crossing, scratch.usedBuckets);
  let cumulative = 0;
  for (let b = 0; b < wholeBuckets; b++) {
    const mass = bucketMass[b] as number;
    if (mass > 0 && target < cumulative + mass) return drawInBucket(pass, b, target - cumulative);
    cumulative += mass;
  }
  // In the crossing bucket (or past the end by rounding): its members, in ascending id.
  const residual = target - cumulative;
  let sum = 0;
  let last = -1;
  visitBoundaryMembers(cut, scratch, (tokenId, weight) => {
    sum += weight;
    last = tokenId;
    return residual < sum;
  });
  return last >= 0 ? last : lastMember(buckets, wholeBuckets);
}

/** The token of bucket `bucket` where the bucket's cumulative weight (ascending id) first exceeds `residual`. */
function drawInBucket(pass: SoftmaxPass, bucket: number, residual: number): number {
  // The pass summed this bucket in ascending id order from 0, as here, so the running sum reaches the bucket's
  // mass exactly and some token is found; `last` only guards against that invariant breaking.
  const count = bucketMembers(pass.scratch, bucket);
  const { ids } = pass.scratch.kernel;
  let sum = 0;
  let last = -1;
  for (let i = 0; i < count; i++) {
    last = ids[i] as number;
    sum += weightAt(pass, last);
    if (residual < sum) return last;
  }
  return last;
}

/** Some member of the whole buckets (the highest id): only reached if the sums' invariants above broke. */
function lastMember(buckets: Uint16Array, end: number): number {
  for (let v = buckets.length - 1; v >= 0; v--) if ((buckets[v] as number) < end) return v;
  return 0;
}
