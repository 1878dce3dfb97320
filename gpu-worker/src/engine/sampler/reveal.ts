/**
 * Reveal strategies: which still-masked positions of the block get their drawn token at this step.
 * - first_hitting: one uniformly chosen masked position per step (the paper's sampler);
 * - ddpm: every position gets a reveal time t ~ U(0, 1) (the linear schedule's unmasking time); with k steps
 *   at t = 1 - 1/k, ..., 0, step j reveals the positions whose time falls in its interval. Steps that reveal
 *   nothing need no forward and are skipped, so a block costs at most k forwards;
 * - confidence: positions whose top-token probability is >= the threshold, and at least enough of the most
 *   confident ones that the block finishes within k steps (Fast-dLLM / SGLang style).
 * A strategy instance lives for one block; all randomness comes from the block's generator.
 */
import type { SamplingStrategy } from "@bd3-serve/shared";
import type { BlockRandomness } from "./rng.ts";

export interface RevealStrategy {
  readonly needsConfidence: boolean;
  /**
   * Positions to reveal now, ascending, a non-empty subset of `masked` (ascending).
   * `confidences[position]` is set for every masked position when `needsConfidence`.
   */
  choose(masked: readonly number[], randomness: BlockRandomness, confidences?: Float64Array): number[];
}

export interface RevealOptions {
  strategy: SamplingStrategy;
  /** Steps per block for ddpm / confidence; default the block size. */
  stepsPerBlock: number;
  confidenceThreshold: number;
}

export function firstHitting(): RevealStrategy {
  return {
    needsConfidence: false,
    choose(masked, randomness) {
      if (randomness.choosePosition) return [randomness.choosePosition(masked)];
      const index = Math.min(masked.length - 1, Math.floor(randomness.uniform() * masked.length));
      return [masked[index] as number];
    },
  };
}

/** Groups the positions by reveal step; reveal times are drawn in ascending position order. */
export function ddpmRevealGroups(positions: readonly number[], steps: number, uniform: () => number): number[][] {
  const groups: number[][] = Array.from({ length: steps }, () => []);
  for (const position of positions) {
    // Reveal time t = 1 - u, u ~ U[0, 1); time runs from 1 down to 0 in `steps` equal intervals.
    const step = Math.min(steps - 1, Math.floor(uniform() * steps));
    groups[step]?.push(position);
  }
  return groups.filter((group) => group.length > 0);
}

export function ddpm(steps: number): RevealStrategy {
  let groups: number[][] | undefined;
  return {
    needsConfidence: false,
    choose(masked, randomness) {
      groups ??= ddpmRevealGroups(masked, steps, () => randomness.uniform());
      const maskedSet = new Set(masked);
      for (;;) {
        const group = groups.shift();
        if (!group) return [...masked];
        const open = group.filter((position) => maskedSet.has(position));
        if (open.length > 0) return open;
      }
    },
  };
}

/** Positions to reveal by confidence: all >= threshold, topped up with the most confident to `minCount`. */
export function pickConfident(
  masked: readonly number[],
  confidences: Float64Array,
  threshold: number,
  minCount: number,
): number[] {
  const ranked = [...masked].sort((a, b) => (confidences[b] as number) - (confidences[a] as number) || a - b);
  const chosen = ranked.filter((position) => (confidences[position] as number) >= threshold);
  for (const position of ranked) {
    if (chosen.length >= minCount) break;
    if (!chosen.includes(position)) chosen.push(position);
  }
  return chosen.sort((a, b) => a - b);
}

export function confidence(steps: number, threshold: number): RevealStrategy {
  let stepsDone = 0;
  return {
    needsConfidence: true,
    choose(masked, _randomness, confidences) {
      if (!confidences) throw new Error("confidence strategy needs confidences");
      const stepsLeft = Math.max(1, steps - stepsDone);
      stepsDone++;
      const minCount = Math.max(1, Math.ceil(masked.length / stepsLeft));
      return pickConfident(masked, confidences, threshold, minCount);
    },
  };
}

export function createRevealStrategy(options: RevealOptions): RevealStrategy {
  const steps = Math.max(1, options.stepsPerBlock);
  switch (options.strategy) {
    case "first_hitting":
      return firstHitting();
    case "ddpm":
      return ddpm(steps);
    case "confidence":
      return confidence(steps, options.confidenceThreshold);
  }
}
