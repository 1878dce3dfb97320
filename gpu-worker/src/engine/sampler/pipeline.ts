/**
 * The per-position sampling pipeline: SUBS -> temperature -> softmax -> nucleus (top-p) -> exponential race.
 * Each stage is a small function in its own file; this one only chains them for one position of the logits.
 */
import { type ExponentialNoise, raceDraw } from "./draw.ts";
import { selectNucleus } from "./nucleus.ts";
import { type SoftmaxScratch, temperedSoftmax, temperedWeightSum } from "./softmax.ts";
import { subsPeak } from "./subs.ts";

export interface TokenSamplingParams {
  vocabSize: number;
  maskTokenId: number;
  /** 0 means greedy (argmax, no noise drawn). */
  temperature: number;
  topP: number;
}

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
  const sumWeights = temperedWeightSum(
    logits,
    offset,
    params.vocabSize,
    params.maskTokenId,
    peak.maxLogit,
    1 / params.temperature,
  );
  return { maxProbability: 1 / sumWeights, ...peak };
}

/** Draws the token of one position from `logits[offset .. offset + vocabSize)`. */
export function sampleToken(
  logits: Float32Array,
  offset: number,
  params: TokenSamplingParams,
  noise: ExponentialNoise,
  scratch: SoftmaxScratch,
): number {
  const peak = subsPeak(logits, offset, params.vocabSize, params.maskTokenId);
  if (params.temperature <= 0) return peak.argmax;
  const { sumWeights } = temperedSoftmax(
    logits,
    offset,
    params.vocabSize,
    params.maskTokenId,
    peak.maxLogit,
    1 / params.temperature,
    scratch,
  );
  const nucleus = selectNucleus(params.vocabSize, sumWeights, params.topP, scratch);
  return raceDraw(nucleus.count, scratch, noise);
}
