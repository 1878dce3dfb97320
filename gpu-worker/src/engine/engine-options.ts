/** The engine's options beyond the public EngineOptions, its defaults, and the zeroed counters. */
import type { SamplerPool } from "./sampler/parallel/sampler-pool.ts";
import type { RandomnessFactory } from "./scheduler/context.ts";
import type { EngineCounters, EngineOptions } from "./types.ts";

export const MAX_BATCH_SIZE_DEFAULT = 8;
/** Prompt tokens cached per prefill forward (rounded down to whole blocks). */
export const PREFILL_CHUNK_TOKENS_DEFAULT = 256;
/** Engine options that tests and tools may set on top of the public ones. */
export interface EngineInternalOptions extends Omit<EngineOptions, "modelDir" | "dtype" | "executionProviders"> {
  prefillChunkTokens?: number;
  randomnessFor?: RandomnessFactory;
  /** Benchmarks only (vLLM's ignore_eos): EOS and the repetition check never end a document. */
  ignoreEos?: boolean;
  /**
   * With a graph that takes `logit_index`: "needed" (default) asks for the positions the step samples from
   * (first hitting / ddpm: the positions it reveals; confidence: the masked ones); "all" asks for every step
   * position, the work of a graph without it (benchmarks and equivalence tests). Ignored without it.
   */
  logitPositions?: "needed" | "all";
  /**
   * Samples as if the graph returned no `logit_stats` (confidence from a pass over the logits, the peak
   * searched): equivalence tests and benchmarks.
   */
  ignoreLogitStats?: boolean;
  /** Sampler threads drawing tokens beside the engine's thread (createEngine starts the pool); closed with it. */
  samplerPool?: SamplerPool | null;
  /** Token evaluations a forward's draws need before the pool takes a share; default POOL_MIN_TOKEN_EVALUATIONS. */
  samplerPoolMinWork?: number;
}

/** Default sampler threads: the other cores, at most this many (more only split ~30 positions finer). */
export const SAMPLER_THREADS_MAX = 7;
/**
 * Below this many token evaluations (positions x vocabulary) a forward's draws stay on the engine's thread:
 * waking a sampler thread costs tens of microseconds, what sampling a few positions of a 258-token vocabulary
 * takes (the demo model ran ~1.4x slower at batch 1 through the pool); two positions of GPT-2's 50k
 * vocabulary (~2 ms) are worth it.
 */
export const POOL_MIN_TOKEN_EVALUATIONS = 100_000;

/** Every counter at zero: a new engine's, and the base tools diff snapshots from. */
export function zeroCounters(): EngineCounters {
  return {
    forwardMsTotal: 0,
    prepareMsTotal: 0,
    samplingMsTotal: 0,
    bytesIn: 0,
    bytesOut: 0,
    kvCopyBytes: 0,
    paddedForwards: 0,
    stepTokenRows: 0,
    logitRows: 0,
    pastReuses: 0,
    pastPatches: 0,
  };
}
