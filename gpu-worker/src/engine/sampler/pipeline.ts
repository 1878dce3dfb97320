/**
 * The per-position sampling pipeline: SUBS -> temperature -> softmax -> nucleus (top-p) -> draw.
 * Each stage is a small function in its own file; this one only chains them for one position of the logits.
 */
import { type ExponentialNoise, inverseCdfDraw, raceDraw } from "./draw.ts";
import { collectNucleus, findNucleusCut } from "./nucleus.ts";
import { type SoftmaxScratch, temperedSoftmax, temperedWeightSum } from "./softmax.ts";
import { subsPeak } from "./subs.ts";

export interface TokenSamplingParams {
  vocabSize: number;
  maskTokenId: number;
  /** 0 means greedy (argmax, no noise drawn). */
  temperature: number;
  topP: number;
}

/**
 * Where a position's randomness comes from: live sampling takes one uniform (inverse CDF); a replay of the
 * reference sampler's recorded noise races its Exp(1) draws. Neither is drawn for a greedy position.
 */
export type TokenNoise = { uniform: () => number } | { exponential: ExponentialNoise };

export interface PositionConfidence {
  /** Probability of the most likely token after SUBS and temperature (1 for greedy). */
  maxProbability: number;
  argmax: number;
  maxLogit: number;
}

/** Confidence of one position: the top token's probability, the signal the `confidence` strategy ranks by. */
export function positionConfidence(
  logits: Float32Array,
  offset: number,
  params: TokenSamplingParams,
): PositionConfidence {
  const peak = subsPeak(logits, offset, params.vocabSize, params.maskTokenId);
  if (params.temperature <= 0) return { maxProbability: 1, ...peak };
  const inverseTemperature = 1 / params.temperature;
  const { vocabSize, maskTokenId } = params;
  const sumWeights = temperedWeightSum(logits, offset, vocabSize, maskTokenId, peak.maxLogit, inverseTemperature);
  return { maxProbability: 1 / sumWeights, ...peak };
}

/** Draws the token of one position from `logits[offset .. offset + vocabSize)`. */
export function sampleToken(
  logits: Float32Array,
  offset: number,
  params: TokenSamplingParams,
  noise: TokenNoise,
  scratch: SoftmaxScratch,
): number {
  const { vocabSize, maskTokenId } = params;
  const peak = subsPeak(logits, offset, vocabSize, maskTokenId);
  if (params.temperature <= 0) return peak.argmax;
  const inverseTemperature = 1 / params.temperature;
  const pass = temperedSoftmax(logits, offset, vocabSize, maskTokenId, peak.maxLogit, inverseTemperature, scratch);
  const cut = findNucleusCut(pass, params.topP, peak.argmax, scratch);
  if ("uniform" in noise) return inverseCdfDraw(pass, cut, noise.uniform(), scratch);
  const nucleus = collectNucleus(pass, cut, scratch);
  return raceDraw(nucleus.count, scratch, noise.exponential);
}
