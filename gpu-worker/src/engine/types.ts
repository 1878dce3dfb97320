/**
 * The engine's public contract: the worker runtime (`gpu-worker/src/runtime`) drives the engine only through
 * these types. Plain data crosses every seam; a request that cannot be admitted yet is a return value, never an
 * exception.
 */
import type { FinishReason, ModelManifest, SamplingParams } from "@bd3-serve/shared";

export type ExecutionProviderName = "cuda" | "webgpu" | "cpu";

export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface EngineOptions {
  /** Model package folder (manifest.json + graphs). */
  modelDir: string;
  /** Which graph of the package to run; default "float32". */
  dtype?: "float32" | "float16";
  /** Execution providers in preference order, default ["cpu"]; each fallback is logged. */
  executionProviders?: ExecutionProviderName[];
  intraOpNumThreads?: number;
  /**
   * Let ORT's intra-op threads spin while waiting for work (lower latency on an otherwise idle host); default
   * false: on a shared host spinning threads steal the cores the forward itself needs (measured ~1.5x slower).
   */
  allowSpinning?: boolean;
  /**
   * Worker threads that sample a forward's positions beside the engine's thread (sampler/parallel/); 0
   * samples on the engine's thread only. Default: available cores - 1, at most 7 (the forward and the
   * sampling never run at once, so they share the cores).
   */
  samplerThreads?: number;
  /**
   * Keep the batched past on the execution provider's device between forwards, uploading it only when it
   * changes (once per committed block, not once per step), and when only slots of the same rows changed (a
   * block committed while the window grows or slides), growing and patching it with just those: "auto" (default) = "on" for the WebGPU provider, where the upload dominated the
   * forward; "on" also on the CPU provider (tests: same tokens); "full" = whole uploads, no patches; "off".
   */
  devicePast?: "auto" | "on" | "full" | "off";
  /** Sequences per forward, default 8. */
  maxBatchSize?: number;
  /** Host KV cache budget across all sequences, in bytes; default: room for maxBatchSize full windows. */
  kvBudgetBytes?: number;
  logger?: EngineLogger;
}

export interface GenerationRequest {
  /** The job id. */
  requestId: string;
  prompt: string;
  params: SamplingParams & { seed: number };
  /** Resume: generated token ids already committed (the blocks before `startBlockIndex`), prompt excluded. */
  committedTokenIds?: number[];
  /** Index of the next output block to generate (= number of committed blocks). */
  startBlockIndex?: number;
}

export interface BlockOutput {
  requestId: string;
  /** Output block index, 0-based. */
  index: number;
  /** Never ends in half a UTF-8 character. */
  text: string;
  /** Generated tokens of this block (EOS and after excluded). */
  tokenIds: number[];
  isLast: boolean;
  /** Set when isLast. */
  finishReason: FinishReason | null;
  /** Set when finishReason is "error": what failed (the forward, or sampling). */
  errorMessage?: string;
}

export type AddRequestResult =
  | { status: "admitted" }
  | { status: "waiting"; reason: "kv_budget" | "batch_full" }
  | { status: "rejected"; reason: string };

export interface EngineStats {
  numRunning: number;
  numWaiting: number;
  kvBytesInUse: number;
  kvBudgetBytes: number;
  forwards: number;
  generatedTokens: number;
  lastForwardMs: number;
  /** Cumulative timings and traffic, for benchmarks and metrics. */
  counters?: EngineCounters;
}

export interface EngineCounters {
  /** Time inside session.run. */
  forwardMsTotal: number;
  /** Time building the batch (past sync, mask, token tensors). */
  prepareMsTotal: number;
  /** Time in the sampler and stopping logic after each forward. */
  samplingMsTotal: number;
  /** Bytes handed to / returned by session.run. */
  bytesIn: number;
  bytesOut: number;
  /** Bytes copied from per-sequence caches into the batched past. */
  kvCopyBytes: number;
  /** Forwards that included a padded (shorter) row. */
  paddedForwards: number;
  /** Step token rows the graph ran (batch x step length per forward, padding included). */
  stepTokenRows: number;
  /** Logits rows the graph computed (the output layer's work: M with logit_index, else batch x step). */
  logitRows: number;
  /** Forwards whose past was already on the device (not uploaded again): see EngineOptions.devicePast. */
  pastReuses: number;
  /** Forwards whose past was patched on the device (only written slots uploaded). */
  pastPatches: number;
}

export interface RequestUsage {
  /** Prompt tokens (BOS not counted). */
  promptTokens: number;
  /** Generated tokens of the whole job: committed tokens of a resumed request included. */
  completionTokens: number;
  /** Forwards this request took part in, in this engine (prefill included; a resumed job's earlier ones not). */
  forwards: number;
}

export interface Engine {
  readonly manifest: ModelManifest;
  readonly executionProvider: ExecutionProviderName;
  /** Waiting requests are admitted by later steps when room frees. */
  addRequest(request: GenerationRequest): AddRequestResult;
  /** Frees its slot and KV at once. */
  abortRequest(requestId: string): boolean;
  hasWork(): boolean;
  /** One scheduler iteration (normally one forward of the batch); returns blocks completed in it. */
  step(): Promise<BlockOutput[]>;
  /** Usage of a request in the engine, or of one of the last 1,024 that left it (finished or aborted). */
  usage(requestId: string): RequestUsage | undefined;
  stats(): EngineStats;
  close(): Promise<void>;
}

export type CreateEngine = (options: EngineOptions) => Promise<Engine>;
