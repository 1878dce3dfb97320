/**
 * Nucleus (top-p) selection without sorting the vocabulary. As the reference sampler, the nucleus is the
 * longest prefix of the tokens sorted by probability whose cumulative mass stays <= top_p, and at least the
 * top token. The softmax pass already bucketed every token by how many nats it lies below the top token
 * (buckets are strictly ordered by probability), so: walk the bucket masses to the bucket where the mass
 * crosses top_p (every token of the buckets above it is in), and sort only that bucket's weights to place the
 * cut exactly. The result is a `NucleusCut`: a membership rule, not a list, so a draw can visit only the
 * bucket it lands in; `collectNucleus` lists every member when a stage needs them all (the race).
 */
import { bucketMembers, LAST_BUCKET, NUM_BUCKETS, type SoftmaxPass, type SoftmaxScratch, weightAt } from "./softmax.ts";

export interface NucleusCut {
  /**
   * Buckets below it are wholly in the nucleus; in it, members are the tokens with weight > cutWeight and the
   * first `tiesAtCut` tokens (ascending id) with weight === cutWeight. NUM_BUCKETS: no cut (top_p >= 1).
   */
  crossing: number;
  /** Mass of the buckets below `crossing`, summed in bucket order. */
  massBefore: number;
  cutWeight: number;
  tiesAtCut: number;
  /** Members of the crossing bucket: `scratch.candidateIds / candidateWeights [0, boundaryCount)`, ascending id. */
  boundaryCount: number;
  /** Total weight of the nucleus. */
  mass: number;
  /** The top token when it alone exceeds top_p (then the nucleus is that token); -1 otherwise. */
  topOnly: number;
}

/** `topToken()`: the top token (first argmax), asked for only when it alone exceeds top_p. */
export function findNucleusCut(
  pass: SoftmaxPass,
  topP: number,
  topToken: () => number,
  scratch: SoftmaxScratch,
): NucleusCut {
  const { bucketMass, candidateIds, candidateWeights, boundary } = scratch;
  const target = topP * pass.sumWeights;
  // Bucket where the cumulative mass first exceeds the target; buckets before it are wholly inside.
  let crossing = NUM_BUCKETS;
  let cumulative = 0;
  for (let b = 0; b < scratch.usedBuckets; b++) {
    const next = cumulative + (bucketMass[b] as number);
    if (topP < 1 && next > target) {
      crossing = b;
      break;
    }
    cumulative = next;
  }
  const massBefore = cumulative;
  if (crossing === NUM_BUCKETS) {
    return { crossing, massBefore, cutWeight: 0, tiesAtCut: 0, boundaryCount: 0, mass: massBefore, topOnly: -1 };
  }
  // The crossing bucket's members in ascending id; their weights, sorted, place the cut: members are taken
  // while the mass stays <= target, members tied with the last one taken in ascending id order (as a stable
  // sort would).
  const boundaryCount = bucketMembers(scratch, crossing);
  const { ids } = scratch.kernel;
  for (let i = 0; i < boundaryCount; i++) {
    const tokenId = ids[i] as number;
    const weight = weightAt(pass, tokenId);
    candidateIds[i] = tokenId;
    candidateWeights[i] = weight;
    boundary[i] = weight;
  }
  const sorted = boundary.subarray(0, boundaryCount).sort().reverse();
  let mass = massBefore;
  let taken = 0;
  while (taken < sorted.length && mass + (sorted[taken] as number) <= target) {
    mass += sorted[taken] as number;
    taken++;
  }
  if (taken === 0) {
    // Nothing of the crossing bucket fits. In bucket 0 that means the top token alone exceeds top_p.
    const topOnly = crossing === 0 ? topToken() : -1;
    return {
      crossing,
      massBefore,
      cutWeight: Number.POSITIVE_INFINITY,
      tiesAtCut: 0,
      boundaryCount,
      mass: topOnly >= 0 ? 1 : massBefore,
      topOnly,
    };
  }
  const cutWeight = sorted[taken - 1] as number;
  let tiesAtCut = 0;
  for (let i = 0; i < taken; i++) if (sorted[i] === cutWeight) tiesAtCut++;
  return { crossing, massBefore, cutWeight, tiesAtCut, boundaryCount, mass, topOnly: -1 };
}

/**
 * Calls `visit(tokenId, weight)` for the crossing bucket's members in ascending id order (the cut's rule:
 * heavier than the cut, or among the first ties); stops early when `visit` returns true.
 */
export function visitBoundaryMembers(
  cut: NucleusCut,
  scratch: SoftmaxScratch,
  visit: (tokenId: number, weight: number) => boolean,
): void {
  let ties = cut.tiesAtCut;
  for (let i = 0; i < cut.boundaryCount; i++) {
    const weight = scratch.candidateWeights[i] as number;
    if (weight < cut.cutWeight) continue;
    if (weight === cut.cutWeight) {
      if (ties === 0) continue;
      ties--;
    }
    if (visit(scratch.candidateIds[i] as number, weight)) return;
  }
}

export interface Nucleus {
  /** Members in ascending token id order: `scratch.candidateIds[0 .. count)` with their weights. */
  count: number;
  /** Sum of the members' weights. */
  mass: number;
}

/** Lists every member of the nucleus (ascending id) into `scratch.candidateIds / candidateWeights`. */
export function collectNucleus(pass: SoftmaxPass, cut: NucleusCut, scratch: SoftmaxScratch): Nucleus {
  const { buckets, candidateIds, candidateWeights } = scratch;
  if (cut.topOnly >= 0) {
    candidateIds[0] = cut.topOnly;
    candidateWeights[0] = weightAt(pass, cut.topOnly);
    return { count: 1, mass: candidateWeights[0] as number };
  }
  // Boundary members first (they occupy the front of the same buffers), then merge in id order.
  const boundaryIds: number[] = [];
  visitBoundaryMembers(cut, scratch, (tokenId) => {
    boundaryIds.push(tokenId);
    return false;
  });
  let next = 0;
  let count = 0;
  let mass = 0;
  for (let v = 0; v < pass.vocabSize; v++) {
    const bucket = buckets[v] as number;
    const isMember =
      bucket < cut.crossing ? bucket !== LAST_BUCKET : bucket === cut.crossing && boundaryIds[next] === v;
    if (!isMember) continue;
    if (bucket === cut.crossing) next++;
    const weight = weightAt(pass, v);
    candidateIds[count] = v;
    candidateWeights[count] = weight;
    count++;
    mass += weight;
  }
  return { count, mass };
}
