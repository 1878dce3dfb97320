import type { ModelManifest } from "@bd3-serve/shared";
import {
  type EngineInternalOptions,
  MAX_BATCH_SIZE_DEFAULT,
  POOL_MIN_TOKEN_EVALUATIONS,
  PREFILL_CHUNK_TOKENS_DEFAULT,
  zeroCounters,
} from "./engine-options.ts";
import { BatchPast } from "./kv/batch-past.ts";
import { KvBudget } from "./kv/kv-budget.ts";
import { blockBytes, type KvDtype, kvLayoutFromManifest } from "./kv/layout.ts";
import { SequenceKvCache } from "./kv/sequence-cache.ts";
import type { DenoiserRunner } from "./model/runner.ts";
import type { SamplerPool } from "./sampler/parallel/sampler-pool.ts";
import { createBlockRandomness } from "./sampler/rng.ts";
import { createSoftmaxScratch } from "./sampler/softmax.ts";
import type { EngineContext } from "./scheduler/context.ts";
import { createSequence, RequestRejectedError } from "./scheduler/create-sequence.ts";
import { type ForwardPlan, scheduleForward } from "./scheduler/schedule.ts";
import type { Sequence } from "./scheduler/sequence.ts";
import { drawTokens, type TokenDrawing } from "./step/draw-tokens.ts";
import { prepareForward } from "./step/prepare-forward.ts";
import { runModel } from "./step/run-model.ts";
import { recordStep } from "./step/step-stats.ts";
import { updateFromOutput } from "./step/update-from-output.ts";
import { REPETITION_MIN_ENTROPY_NATS } from "./stopping/entropy.ts";
import { createTokenizer } from "./tokenizer/index.ts";
import type {
  AddRequestResult,
  BlockOutput,
  Engine,
  EngineCounters,
  EngineLogger,
  EngineStats,
  ExecutionProviderName,
  GenerationRequest,
  RequestUsage,
} from "./types.ts";

/** Usage of finished requests kept for `usage()`, oldest forgotten first. */
const FINISHED_USAGE_KEPT = 1_024;

const silentLogger: EngineLogger = { info: () => {}, warn: () => {} };

class BlockDiffusionEngine implements Engine {
  readonly executionProvider: ExecutionProviderName;
  private readonly context: EngineContext;
  private readonly budget: KvBudget;
  /** One batched past per forward kind, so alternating prefill and decode forwards copy only what changed. */
  private readonly batchPast: Record<ForwardPlan["kind"], BatchPast>;
  private readonly maxBatchSize: number;
  private readonly prefillChunkBlocks: number;
  private readonly logger: EngineLogger;
  private readonly logitPositions: "needed" | "all";
  private readonly usesLogitStats: boolean;
  private readonly samplerPool: SamplerPool | null;
  private readonly drawing: TokenDrawing;
  private waiting: Sequence[] = [];
  private running: Sequence[] = [];
  private readonly finishedUsage = new Map<string, RequestUsage>();
  private previousKind: ForwardPlan["kind"] | null = null;
  private isStepping = false;
  private forwards = 0;
  private generatedTokens = 0;
  private lastForwardMs = 0;
  private readonly counters: EngineCounters = zeroCounters();

  constructor(
    readonly manifest: ModelManifest,
    private readonly runner: DenoiserRunner,
    options: EngineInternalOptions,
  ) {
    this.executionProvider = runner.executionProvider;
    this.logger = options.logger ?? silentLogger;
    this.logitPositions = options.logitPositions ?? "needed";
    this.usesLogitStats = !options.ignoreLogitStats;
    this.samplerPool = options.samplerPool ?? null;
    const layout = kvLayoutFromManifest(manifest, runner.kvDtype);
    const windowBlocks = manifest.context_length / manifest.block_size;
    this.context = {
      manifest,
      blockSize: manifest.block_size,
      windowBlocks,
      maskTokenId: manifest.mask_token_id,
      bosTokenId: manifest.bos_token_id,
      eosTokenId: options.ignoreEos ? -1 : manifest.eos_token_id,
      vocabSize: manifest.vocab_size,
      tokenizer: createTokenizer(manifest.tokenizer.kind),
      layout,
      blockBytes: blockBytes(layout),
      minEntropyNats: options.ignoreEos ? 0 : REPETITION_MIN_ENTROPY_NATS[manifest.tokenizer.kind],
      randomnessFor: options.randomnessFor ?? ((_id, seed, outputIndex) => createBlockRandomness(seed, outputIndex)),
      scratch: createSoftmaxScratch(manifest.vocab_size),
    };
    this.drawing = {
      pool: this.samplerPool,
      scratch: this.context.scratch,
      vocabSize: manifest.vocab_size,
      poolMinWork: options.samplerPoolMinWork ?? POOL_MIN_TOKEN_EVALUATIONS,
    };
    this.maxBatchSize = Math.max(1, options.maxBatchSize ?? MAX_BATCH_SIZE_DEFAULT);
    const windowBytes = Math.max(0, windowBlocks - 1) * this.context.blockBytes;
    this.budget = new KvBudget(options.kvBudgetBytes ?? this.maxBatchSize * windowBytes);
    this.batchPast = { prefill: new BatchPast(layout), decode: new BatchPast(layout) };
    const chunkTokens = options.prefillChunkTokens ?? PREFILL_CHUNK_TOKENS_DEFAULT;
    this.prefillChunkBlocks = Math.max(1, Math.min(windowBlocks - 1, Math.floor(chunkTokens / manifest.block_size)));
  }

  addRequest(request: GenerationRequest): AddRequestResult {
    if (this.find(request.requestId))
      return { status: "rejected", reason: `request ${request.requestId} is already in the engine` };
    let sequence: Sequence;
    try {
      sequence = createSequence(request, this.context);
    } catch (error) {
      if (error instanceof RequestRejectedError) return { status: "rejected", reason: error.message };
      throw error;
    }
    if (!this.budget.canEverFit(sequence.reservedBytes)) {
      return {
        status: "rejected",
        reason: `needs ${sequence.reservedBytes} bytes of KV cache; the budget is ${this.budget.budgetBytes}`,
      };
    }
    this.finishedUsage.delete(request.requestId);
    this.waiting.push(sequence);
    this.admitWaiting();
    if (sequence.status === "running") return { status: "admitted" };
    return { status: "waiting", reason: this.running.length >= this.maxBatchSize ? "batch_full" : "kv_budget" };
  }

  abortRequest(requestId: string): boolean {
    const sequence = this.find(requestId);
    if (!sequence) return false;
    this.waiting = this.waiting.filter((candidate) => candidate !== sequence);
    this.running = this.running.filter((candidate) => candidate !== sequence);
    sequence.finishReason = "canceled";
    this.release(sequence);
    this.admitWaiting();
    return true;
  }

  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  async step(): Promise<BlockOutput[]> {
    if (this.isStepping) throw new Error("engine.step() called while another step is running");
    this.admitWaiting();
    const plan = scheduleForward(this.running, this.prefillChunkBlocks, this.previousKind);
    if (!plan) return [];
    this.previousKind = plan.kind;
    let outputs: BlockOutput[];
    this.isStepping = true;
    try {
      outputs = await this.execute(plan);
    } catch (error) {
      outputs = this.failBatch(plan, error);
    } finally {
      this.isStepping = false;
    }
    this.running = this.running.filter((sequence) => {
      if (sequence.status === "running") return true;
      this.release(sequence);
      return false;
    });
    this.admitWaiting();
    // Mirrors nobody needs any more give their memory back.
    if (!this.running.some((sequence) => sequence.cleanQueue.length > 1)) this.batchPast.prefill.clear();
    if (this.running.length === 0) this.batchPast.decode.clear();
    return outputs;
  }

  usage(requestId: string): RequestUsage | undefined {
    const sequence = this.find(requestId);
    if (sequence) return usageOf(sequence);
    return this.finishedUsage.get(requestId);
  }

  stats(): EngineStats {
    return {
      numRunning: this.running.length,
      numWaiting: this.waiting.length,
      kvBytesInUse: this.budget.bytesInUse,
      kvBudgetBytes: this.budget.budgetBytes,
      forwards: this.forwards,
      generatedTokens: this.generatedTokens,
      lastForwardMs: this.lastForwardMs,
      counters: { ...this.counters },
    };
  }

  async close(): Promise<void> {
    for (const sequence of [...this.running, ...this.waiting]) this.release(sequence);
    this.running = [];
    this.waiting = [];
    this.batchPast.prefill.clear();
    this.batchPast.decode.clear();
    await this.samplerPool?.close();
    await this.runner.close();
  }

  /** One forward: prepare -> run the model -> update from its output, then the stats of what it produced. */
  private async execute(plan: ForwardPlan): Promise<BlockOutput[]> {
    const startedMs = performance.now();
    const prepared = prepareForward(plan, {
      context: this.context,
      batchPast: this.batchPast[plan.kind],
      takesLogitIndex: this.runner.takesLogitIndex === true,
      logitPositions: this.logitPositions,
    });
    const preparedMs = performance.now();
    const output = await runModel(this.runner, prepared, this.context.vocabSize, this.usesLogitStats);
    const ranMs = performance.now();
    const blocks = updateFromOutput(prepared, output, this.context, (draws) => drawTokens(draws, this.drawing));
    const sampledMs = performance.now();
    const timings = { startedMs, preparedMs, ranMs, sampledMs };
    const record = recordStep(this.counters, prepared, output, blocks, timings, this.context.blockSize);
    this.forwards++;
    this.lastForwardMs = record.forwardMs;
    this.generatedTokens += record.generatedTokens;
    return blocks;
  }

  private failBatch(plan: ForwardPlan, error: unknown): BlockOutput[] {
    const message = error instanceof Error ? error.message : String(error);
    this.logger.warn(
      { requestIds: plan.rows.map((row) => row.requestId), error: message },
      "forward failed; ending its batch",
    );
    this.batchPast[plan.kind].clear();
    return plan.sequences
      .filter((sequence) => sequence.status === "running")
      .map((sequence) => {
        sequence.status = "finished";
        sequence.finishReason = "error";
        return {
          requestId: sequence.requestId,
          index: sequence.block?.outputIndex ?? 0,
          text: "",
          tokenIds: [],
          isLast: true,
          finishReason: "error" as const,
          errorMessage: message,
        };
      });
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.running.length < this.maxBatchSize) {
      const sequence = this.waiting[0] as Sequence;
      const reservation = this.budget.reserve(sequence.reservedBytes);
      if (!reservation) break;
      this.waiting.shift();
      sequence.reservation = reservation;
      sequence.kv = new SequenceKvCache(this.context.layout, sequence.capacityBlocks);
      sequence.status = "running";
      this.running.push(sequence);
    }
  }

  private release(sequence: Sequence): void {
    if (sequence.reservation) this.budget.release(sequence.reservation);
    sequence.reservation = null;
    sequence.kv = null;
    if (sequence.status !== "finished") sequence.status = "finished";
    this.finishedUsage.set(sequence.requestId, usageOf(sequence));
    if (this.finishedUsage.size > FINISHED_USAGE_KEPT) {
      const oldest = this.finishedUsage.keys().next().value;
      if (oldest !== undefined) this.finishedUsage.delete(oldest);
    }
  }

  private find(requestId: string): Sequence | undefined {
    return (
      this.running.find((sequence) => sequence.requestId === requestId) ??
      this.waiting.find((sequence) => sequence.requestId === requestId)
    );
  }
}

function usageOf(sequence: Sequence): RequestUsage {
  return {
    promptTokens: sequence.promptTokens,
    completionTokens: sequence.completionTokens,
    forwards: sequence.forwards,
  };
}

/** Builds an engine around an already created runner (tests pass a TypeScript model here). */
export function createEngineWithRunner(
  manifest: ModelManifest,
  runner: DenoiserRunner,
  options: EngineInternalOptions = {},
): Engine {
  return new BlockDiffusionEngine(manifest, runner, options);
}

export type { KvDtype };
