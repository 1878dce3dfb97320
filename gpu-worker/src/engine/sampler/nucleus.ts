/**
 * Nucleus (top-p) selection without sorting the vocabulary. As the reference sampler, the nucleus is the
 * longest prefix of the tokens sorted by probability whose cumulative mass stays <= top_p, and at least the
 * top token. The softmax pass already bucketed every token by how many nats it lies below the top token
 * (buckets are strictly ordered by probability), so: walk the bucket masses to the bucket where the mass
 * crosses top_p, take every token of the buckets above it, and sort only the members of that one bucket to
 * place the cut exactly.
 */
import { NUM_BUCKETS, type SoftmaxScratch } from "./softmax.ts";

export interface Nucleus {
  /** Members in ascending token id order: `scratch.candidateIds[0 .. count)` with their weights. */
  count: number;
  /** Sum of the members' weights. */
  mass: number;
}

export function selectNucleus(vocabSize: number, sumWeights: number, topP: number, scratch: SoftmaxScratch): Nucleus {
  const { weights, buckets, bucketMass, candidateIds, candidateWeights, boundary } = scratch;
  const target = topP * sumWeights;
  // Bucket where the cumulative mass first exceeds the target; buckets before it are wholly inside.
  let crossing = NUM_BUCKETS;
  let massBefore = 0;
  if (topP < 1) {
    let cumulative = 0;
    for (let b = 0; b < scratch.usedBuckets; b++) {
      const next = cumulative + (bucketMass[b] as number);
      if (next > target) {
        crossing = b;
        massBefore = cumulative;
        break;
      }
      cumulative = next;
    }
  }
  // One pass collects every member of the buckets up to the crossing one (ascending id) and the crossing
  // bucket's weights; the latter, sorted, place the cut: members are taken while the mass stays <= target,
  // members tied with the last one taken in ascending id order (as a stable sort would).
  let count = 0;
  let boundaryCount = 0;
  for (let v = 0; v < vocabSize; v++) {
    const bucket = buckets[v] as number;
    const weight = weights[v] as number;
    if (bucket > crossing || weight <= 0) continue;
    candidateIds[count] = v;
    candidateWeights[count] = weight;
    count++;
    if (bucket === crossing) boundary[boundaryCount++] = weight;
  }
  let cutWeight = Number.POSITIVE_INFINITY;
  let tiesAtCut = 0;
  if (boundaryCount > 0) {
    const members = boundary.subarray(0, boundaryCount).sort().reverse();
    let cumulative = massBefore;
    let taken = 0;
    while (taken < members.length && cumulative + (members[taken] as number) <= target) {
      cumulative += members[taken] as number;
      taken++;
    }
    if (taken > 0) {
      cutWeight = members[taken - 1] as number;
      for (let i = 0; i < taken; i++) if (members[i] === cutWeight) tiesAtCut++;
    }
  }
  let kept = 0;
  let mass = 0;
  for (let i = 0; i < count; i++) {
    const tokenId = candidateIds[i] as number;
    const weight = candidateWeights[i] as number;
    if ((buckets[tokenId] as number) === crossing) {
      if (weight < cutWeight) continue;
      if (weight === cutWeight) {
        if (tiesAtCut === 0) continue;
        tiesAtCut--;
      }
    }
    candidateIds[kept] = tokenId;
    candidateWeights[kept] = weight;
    kept++;
    mass += weight;
  }
  count = kept;
  if (count === 0) {
    // The top token alone exceeds top_p: the nucleus is the top token (weight 1 by construction).
    let best = -1;
    let bestWeight = 0;
    for (let v = 0; v < vocabSize; v++) {
      const weight = weights[v] as number;
      if (weight > bestWeight) {
        bestWeight = weight;
        best = v;
      }
    }
    candidateIds[0] = best;
    candidateWeights[0] = bestWeight;
    return { count: 1, mass: bestWeight };
  }
  return { count, mass };
}
