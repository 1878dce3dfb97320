/**
 * Draws one token from the nucleus by an exponential race: argmax over members of weight / E with
 * E ~ Exp(1) independent per member. This is exactly a categorical draw proportional to the weights, and it
 * is how the reference sampler draws (`probs / Exp(1)` then argmax), so recorded noise replays exactly.
 */
import type { SoftmaxScratch } from "./softmax.ts";

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
