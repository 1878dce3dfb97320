/**
 * The per-position sampling pipeline: SUBS -> temperature -> softmax -> nucleus (top-p) -> draw.
 * Each stage is a small function in its own file; this one only chains them for one position of the logits.
 */
import { type ExponentialNoise, inverseCdfDraw, raceDraw } from "./draw.ts";
import { collectNucleus, findNucleusCut } from "./nucleus.ts";
import { type SoftmaxScratch, temperedSoftmax } from "./softmax.ts";
import { subsPeak } from "./subs.ts";

export interface TokenSamplingParams {
  vocabSize: number;
  maskTokenId: number;
  /** 0 means greedy (argmax, no noise drawn). */
  temperature: number;
  topP: number;
}

/**
 * Where a position's randomness comes from: live sampling takes one uniform in [0, 1) (inverse CDF); a replay of
 * the reference sampler's recorded noise races its Exp(1) draws. A greedy position (temperature 0) reads neither,
 * so its caller draws none.
 */
export type TokenNoise = { uniform: number } | { exponential: ExponentialNoise };

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
  scratch: SoftmaxScratch,
): PositionConfidence {
  const peak = subsPeak(logits, offset, params.vocabSize, params.maskTokenId);
  if (params.temperature <= 0) return { maxProbability: 1, ...peak };
  const inverseTemperature = 1 / params.temperature;
  const { vocabSize, maskTokenId } = params;
  const pass = temperedSoftmax(logits, offset, vocabSize, maskTokenId, peak.maxLogit, inverseTemperature, scratch);
  return { maxProbability: 1 / pass.sumWeights, ...peak };
}

/** A logits row's statistics as the graph's `logit_stats` output gives them ([MASK] excluded). */
export interface LogitStats {
  maxLogit: number;
  logSumExp: number;
}

/**
 * The top token's probability from the graph's statistics: exp(max - log-sum-exp), which is the softmax at
 * temperature 1 only (null otherwise, or for non-finite statistics: the caller computes it from the logits).
 */
export function confidenceFromStats(stats: LogitStats, params: TokenSamplingParams): number | null {
  if (params.temperature !== 1) return null;
  const probability = Math.exp(stats.maxLogit - stats.logSumExp);
  return Number.isFinite(probability) ? Math.min(1, probability) : null;
}

/**
 * Draws the token of one position from `logits[offset .. offset + vocabSize)`. `knownMaxLogit`: the row's max
 * logit without [MASK] when the graph already computed it (it is the same float32 value), which saves the
 * peak pass; the top token itself is then looked up only if the nucleus turns out to be that token alone.
 */
export function sampleToken(
  logits: Float32Array,
  offset: number,
  params: TokenSamplingParams,
  noise: TokenNoise,
  scratch: SoftmaxScratch,
  knownMaxLogit?: number,
): number {
  const { vocabSize, maskTokenId } = params;
  if (params.temperature <= 0 || knownMaxLogit === undefined) {
    const peak = subsPeak(logits, offset, vocabSize, maskTokenId);
    if (params.temperature <= 0) return peak.argmax;
    knownMaxLogit = peak.maxLogit;
  }
  const maxLogit = knownMaxLogit;
  const inverseTemperature = 1 / params.temperature;
  const pass = temperedSoftmax(logits, offset, vocabSize, maskTokenId, maxLogit, inverseTemperature, scratch);
  const topToken = () => firstTokenWithLogit(logits, offset, vocabSize, maskTokenId, maxLogit);
  const cut = findNucleusCut(pass, params.topP, topToken, scratch);
  if ("uniform" in noise) return inverseCdfDraw(pass, cut, noise.uniform, scratch);
  const nucleus = collectNucleus(pass, cut, scratch);
  return raceDraw(nucleus.count, scratch, noise.exponential);
}

/** The first token (not [MASK]) whose logit is `logit`: the argmax subsPeak would return for that max. */
function firstTokenWithLogit(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  maskTokenId: number,
  logit: number,
): number {
  for (let v = 0; v < vocabSize; v++) if (v !== maskTokenId && logits[offset + v] === logit) return v;
  return subsPeak(logits, offset, vocabSize, maskTokenId).argmax;
}
