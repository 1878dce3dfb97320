/**
 * State of one request inside the engine. Lifecycle: waiting -> running -> finished (or removed by abort).
 * A running sequence has:
 * - `cleanQueue`: clean blocks (prompt, resumed tokens, or the block just finished) whose keys/values are not
 *   cached yet; the next forward computes them (a prefill chunk, or the commit folded into the next step);
 * - `block`: the block being denoised, with its reveal strategy and its block's random generator;
 * - the stopping state (remaining tokens, text held back for stop sequences, recent tokens for repetition).
 */
import type { FinishReason, SamplingParams } from "@bd3-serve/shared";
import type { KvReservation } from "../kv/kv-budget.ts";
import type { SequenceKvCache } from "../kv/sequence-cache.ts";
import type { RevealStrategy } from "../sampler/reveal.ts";
import type { BlockRandomness } from "../sampler/rng.ts";
import type { StoppingState } from "../stopping/finish-block.ts";
import type { IncrementalDetokenizer } from "../tokenizer/index.ts";

export type SequenceStatus = "waiting" | "running" | "finished";

export interface CleanBlock {
  blockIndex: number;
  tokens: Int32Array;
}

export interface DenoiseBlock {
  /** Absolute block index (positions blockIndex * blockSize ...). */
  blockIndex: number;
  /** Output block index reported to the caller. */
  outputIndex: number;
  tokens: Int32Array;
  /** Positions this block generates, ascending (prompt-tail positions excluded). */
  generate: number[];
  strategy: RevealStrategy;
  randomness: BlockRandomness;
  forwards: number;
}

export interface Sequence {
  requestId: string;
  params: SamplingParams & { seed: number };
  status: SequenceStatus;
  promptTokens: number;
  /** Clean tokens known at admission: BOS + prompt + resumed tokens. */
  initialCleanTokens: number;
  /** Blocks this sequence may keep cached, and the bytes reserved for them. */
  capacityBlocks: number;
  reservedBytes: number;
  kv: SequenceKvCache | null;
  reservation: KvReservation | null;
  cleanQueue: CleanBlock[];
  block: DenoiseBlock | null;
  /** Generated tokens so far, committed ones from before a resume included. */
  completionTokens: number;
  forwards: number;
  stopping: StoppingState;
  detokenizer: IncrementalDetokenizer;
  finishReason: FinishReason | null;
}
