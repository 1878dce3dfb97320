/**
 * Block lifecycle of a sequence: open a block to denoise, plan one denoising step before the forward (which
 * positions' logits it reads), apply it from the forward's logits, and close it (stopping criteria, text) into
 * a BlockOutput. Opening the next block queues the closed one as a clean block, so its keys/values are computed
 * in the next forward (the folded commit).
 */
import {
  confidenceFromStats,
  type LogitStats,
  positionConfidence,
  sampleToken,
  type TokenNoise,
  type TokenSamplingParams,
} from "../sampler/pipeline.ts";
import { createRevealStrategy } from "../sampler/reveal.ts";
import type { SoftmaxScratch } from "../sampler/softmax.ts";
import { REPETITION_WINDOW_TOKENS } from "../stopping/entropy.ts";
import { finishBlock } from "../stopping/finish-block.ts";
import type { BlockOutput } from "../types.ts";
import type { EngineContext } from "./context.ts";
import type { Sequence } from "./sequence.ts";

/** Opens block `blockIndex` (output `outputIndex`) with `prefilled` tokens at its start. */
export function startBlock(
  sequence: Sequence,
  blockIndex: number,
  outputIndex: number,
  prefilled: readonly number[],
  context: EngineContext,
): void {
  const { blockSize, maskTokenId } = context;
  const tokens = new Int32Array(blockSize).fill(maskTokenId);
  tokens.set(prefilled.slice(0, blockSize));
  // Every open position is generated, even in a final block that max_tokens will cut: the reference
  // sampler does the same, which keeps recorded fixtures replayable.
  const first = Math.min(prefilled.length, blockSize);
  const generate = Array.from({ length: blockSize - first }, (_, i) => first + i);
  const { params } = sequence;
  sequence.block = {
    blockIndex,
    outputIndex,
    tokens,
    generate,
    strategy: createRevealStrategy({
      strategy: params.strategy,
      stepsPerBlock: params.steps_per_block ?? blockSize,
      confidenceThreshold: params.confidence_threshold,
    }),
    randomness: context.randomnessFor(sequence.requestId, params.seed, outputIndex),
    forwards: 0,
  };
}

function samplingParams(sequence: Sequence, context: EngineContext): TokenSamplingParams {
  return {
    vocabSize: context.vocabSize,
    maskTokenId: context.maskTokenId,
    temperature: sequence.params.temperature,
    topP: sequence.params.top_p,
  };
}

/**
 * What one denoising step of a block reads from the forward, decided before the forward runs: the masked
 * positions, and the positions to reveal when the strategy does not look at the logits (first hitting: one
 * uniformly chosen position; ddpm: the next group of reveal times). Choosing before the forward draws the same
 * random numbers in the same order as choosing after it (each step draws its choice, then its token noise), so
 * the tokens are unchanged; it lets the forward compute logits only for `logitPositions`.
 */
export interface DenoisePlan {
  /** Masked positions of the block that it generates, ascending. */
  masked: number[];
  /** Positions to reveal, ascending; null when the strategy chooses from the logits (confidence). */
  chosen: number[] | null;
  /** Block positions whose logits the step reads: `chosen`, or every masked position. */
  logitPositions: number[];
}

/** Plans the next denoising step of the sequence's block; null when it has no masked position left. */
export function planDenoiseStep(sequence: Sequence, context: EngineContext): DenoisePlan | null {
  const block = sequence.block;
  if (!block) return null;
  const masked = block.generate.filter((position) => block.tokens[position] === context.maskTokenId);
  if (masked.length === 0) return null;
  if (block.strategy.needsConfidence) return { masked, chosen: null, logitPositions: masked };
  const chosen = block.strategy.choose(masked, block.randomness);
  return { masked, chosen, logitPositions: chosen };
}

/** A forward's logits as one denoising block reads them (defined for its plan's `logitPositions`). */
export interface BlockLogits {
  logits: Float32Array;
  /** Offset of a block position's logits in `logits`. */
  offset(position: number): number;
  /** The graph's `logit_stats` of a block position ([MASK] excluded), when the graph returns them. */
  stats: ((position: number) => LogitStats) | null;
}

/** One position a denoising step reveals, with what its token draw needs (its noise already drawn). */
export interface PositionDraw {
  position: number;
  logits: Float32Array;
  offset: number;
  params: TokenSamplingParams;
  /** The uniform of a live draw (0, unread, for a greedy position), or a replay's recorded race noise. */
  noise: TokenNoise;
  /** The row's max logit from the graph's logit_stats, when it returned them. */
  maxLogit: number | undefined;
}

/**
 * The reveals of a planned denoising step: the positions (confidence chooses them from the logits now) and
 * each one's noise, drawn from the block's generator in ascending position order, as the reference does.
 * Drawing the tokens is left to the caller (`drawToken` here, or a sampler pool for a whole forward).
 */
export function chooseReveals(
  sequence: Sequence,
  plan: DenoisePlan | null,
  blockLogits: BlockLogits,
  context: EngineContext,
): PositionDraw[] {
  const block = sequence.block;
  if (!block || !plan) return [];
  const { logits, offset, stats } = blockLogits;
  const params = samplingParams(sequence, context);
  let chosen = plan.chosen;
  if (!chosen) {
    const confidences = new Float64Array(context.blockSize);
    for (const position of plan.masked) {
      const fromGraph = stats ? confidenceFromStats(stats(position), params) : null;
      confidences[position] =
        fromGraph ?? positionConfidence(logits, offset(position), params, context.scratch).maxProbability;
    }
    chosen = block.strategy.choose(plan.masked, block.randomness, confidences);
  }
  return chosen.map((position) => {
    const maxLogit = stats?.(position).maxLogit;
    const { exponential } = block.randomness;
    const noise: TokenNoise = exponential
      ? { exponential: (tokenId) => exponential(position, tokenId) }
      : { uniform: params.temperature > 0 ? block.randomness.uniform() : 0 };
    return {
      position,
      logits,
      offset: offset(position),
      params,
      noise,
      maxLogit: maxLogit !== undefined && Number.isFinite(maxLogit) ? maxLogit : undefined,
    };
  });
}

/** The token of one reveal, on this thread. */
export function drawToken(draw: PositionDraw, scratch: SoftmaxScratch): number {
  return sampleToken(draw.logits, draw.offset, draw.params, draw.noise, scratch, draw.maxLogit);
}

/**
 * Writes the drawn tokens (`tokens[i]` for `draws[i]`) into the block. Returns true when the block has no
 * masked position left to generate.
 */
export function applyReveals(
  sequence: Sequence,
  plan: DenoisePlan | null,
  draws: readonly PositionDraw[],
  tokens: ArrayLike<number>,
): boolean {
  const block = sequence.block;
  if (!block || !plan) return true;
  draws.forEach((draw, i) => {
    block.tokens[draw.position] = tokens[i] as number;
  });
  block.forwards++;
  return plan.masked.length === draws.length;
}

/** Closes the finished block: applies the stopping criteria and, unless it ends the document, opens the next. */
export function closeBlock(sequence: Sequence, context: EngineContext): BlockOutput {
  const block = sequence.block;
  if (!block) throw new Error(`sequence ${sequence.requestId} has no open block`);
  const generated = block.generate.map((position) => block.tokens[position] as number);
  const finished = finishBlock(generated, sequence.stopping, sequence.detokenizer);
  const stopping = sequence.stopping;
  stopping.remainingTokens -= finished.tokenIds.length;
  stopping.recentTokens = [...stopping.recentTokens, ...finished.tokenIds].slice(-REPETITION_WINDOW_TOKENS);
  stopping.pendingText = finished.pendingText;
  sequence.completionTokens += finished.tokenIds.length;
  const finishReason = finished.finishReason;
  sequence.block = null;
  if (finishReason !== null) {
    sequence.finishReason = finishReason;
    sequence.status = "finished";
  } else {
    sequence.cleanQueue.push({ blockIndex: block.blockIndex, tokens: block.tokens });
    startBlock(sequence, block.blockIndex + 1, block.outputIndex + 1, [], context);
  }
  return {
    requestId: sequence.requestId,
    index: block.outputIndex,
    text: finished.text,
    tokenIds: finished.tokenIds,
    isLast: finishReason !== null,
    finishReason,
  };
}
