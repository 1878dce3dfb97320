/**
 * The tokens of every reveal of a forward: on the sampler pool's threads and the engine's when the pool
 * runs, every draw is a live one (a replay's recorded race noise is drawn here) and the work is worth waking
 * the threads; else on the engine's thread, in order.
 */
import type { SamplerPool } from "../sampler/parallel/sampler-pool.ts";
import type { SoftmaxScratch } from "../sampler/softmax.ts";
import { drawToken, type PositionDraw } from "../scheduler/blocks.ts";

export interface TokenDrawing {
  pool: SamplerPool | null;
  scratch: SoftmaxScratch;
  vocabSize: number;
  /** Token evaluations (positions x vocabulary) below which the draws stay on the engine's thread. */
  poolMinWork: number;
}

export function drawTokens(draws: readonly PositionDraw[], drawing: TokenDrawing): Int32Array {
  const { pool, scratch } = drawing;
  const work = draws.length * drawing.vocabSize;
  const live = draws.flatMap((draw) => ("uniform" in draw.noise ? [{ ...draw, uniform: draw.noise.uniform }] : []));
  if (pool && pool.threads > 0 && live.length > 1 && live.length === draws.length && work >= drawing.poolMinWork) {
    return pool.sampleAll(live, scratch);
  }
  return Int32Array.from(draws, (draw) => drawToken(draw, scratch));
}
