/**
 * The block diffusion engine: continuous batching over many sequences, one forward per step.
 * Each step is schedule -> execute -> update with plain data between them:
 * - schedule (scheduler/schedule.ts): admit waiting requests that fit (batch slots, KV budget), then pick the
 *   rows of the next forward (a prefill chunk, or every running sequence's current block with its folded commit);
 * - execute: sync the batched past from the per-sequence caches, build tokens/positions/mask, plan each row's
 *   denoising step (which positions' logits it reads: batch/logit-index.ts), run the graph;
 * - update (scheduler/blocks.ts): cache the clean blocks' keys/values, choose every row's reveals and draw their
 *   noise, draw all the forward's tokens at once (on the sampler pool's worker threads too, when it has any:
 *   sampler/parallel/), write them, close finished blocks into BlockOutputs, release finished sequences.
 * Sequences join and leave between forwards, which for each sequence is a block boundary (a joining sequence
 * starts at its first block; a leaving one has just closed its last). A forward that fails ends every sequence
 * of its batch with finish reason "error" and frees their caches; the engine stays usable.
 */
import { availableParallelism } from "node:os";
import type { ModelManifest } from "@bd3-serve/shared";
import { buildAttentionMask } from "./batch/attention-mask.ts";
import { allPositionsLayout, gatheredLayout, type LogitLayout } from "./batch/logit-index.ts";
import type { RowPlan } from "./batch/row-plan.ts";
import { buildStepInputs } from "./batch/step-inputs.ts";
import { BatchPast } from "./kv/batch-past.ts";
import { KvBudget } from "./kv/kv-budget.ts";
import { blockBytes, type KvDtype, kvLayoutFromManifest } from "./kv/layout.ts";
import { SequenceKvCache } from "./kv/sequence-cache.ts";
import { loadModelPackage } from "./model/model-package.ts";
import { createOrtRunner } from "./model/ort-runner.ts";
import type { DenoiserRunner } from "./model/runner.ts";
import { SamplerPool } from "./sampler/parallel/sampler-pool.ts";
import { createBlockRandomness } from "./sampler/rng.ts";
import { createSoftmaxScratch } from "./sampler/softmax.ts";
import {
  applyReveals,
  chooseReveals,
  closeBlock,
  type DenoisePlan,
  drawToken,
  type PositionDraw,
  planDenoiseStep,
} from "./scheduler/blocks.ts";
import type { EngineContext, RandomnessFactory } from "./scheduler/context.ts";
import { createSequence, RequestRejectedError } from "./scheduler/create-sequence.ts";
import { type ForwardPlan, scheduleForward } from "./scheduler/schedule.ts";
import type { Sequence } from "./scheduler/sequence.ts";
import { REPETITION_MIN_ENTROPY_NATS } from "./stopping/entropy.ts";
import { createTokenizer } from "./tokenizer/index.ts";
import type {
  AddRequestResult,
  BlockOutput,
  Engine,
  EngineCounters,
  EngineLogger,
  EngineOptions,
  EngineStats,
  ExecutionProviderName,
  GenerationRequest,
  RequestUsage,
} from "./types.ts";

export const MAX_BATCH_SIZE_DEFAULT = 8;
/** Prompt tokens cached per prefill forward (rounded down to whole blocks). */
export const PREFILL_CHUNK_TOKENS_DEFAULT = 256;
/** Usage of finished requests kept for `usage()`, oldest forgotten first. */
const FINISHED_USAGE_KEPT = 1_024;

const silentLogger: EngineLogger = { info: () => {}, warn: () => {} };

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
  /** Worker threads drawing tokens beside the engine's thread (createEngine starts it); closed with the engine. */
  samplerPool?: SamplerPool | null;
  /** Token evaluations a forward's draws need before the pool takes a share; default POOL_MIN_TOKEN_EVALUATIONS. */
  samplerPoolMinWork?: number;
}

/** Default sampler worker threads: the other cores, at most this many (more only split ~30 positions finer). */
const SAMPLER_THREADS_MAX = 7;
/**
 * Below this many token evaluations (positions x vocabulary) a forward's draws stay on the engine's thread:
 * waking a worker costs tens of microseconds, what sampling a few positions of a 258-token vocabulary takes
 * (the demo model ran ~1.4x slower at batch 1 through the pool); two positions of GPT-2's 50k vocabulary
 * (~2 ms) are worth it.
 */
const POOL_MIN_TOKEN_EVALUATIONS = 100_000;

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
  private readonly samplerPoolMinWork: number;
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
    this.samplerPoolMinWork = options.samplerPoolMinWork ?? POOL_MIN_TOKEN_EVALUATIONS;
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

  private async execute(plan: ForwardPlan): Promise<BlockOutput[]> {
    const { blockSize, maskTokenId, vocabSize, windowBlocks } = this.context;
    const started = performance.now();
    const caches = plan.sequences.map((sequence) => sequence.kv as SequenceKvCache);
    const past = this.batchPast[plan.kind].sync(caches);
    const step = buildStepInputs(plan.rows, blockSize, maskTokenId);
    // Choices that do not depend on the logits are made now, so the graph computes only the logits read.
    const denoisePlans = plan.rows.map((row, r) =>
      row.segments.some((segment) => segment.kind === "denoise")
        ? planDenoiseStep(plan.sequences[r] as Sequence, this.context)
        : null,
    );
    const logits = this.logitLayout(plan.rows, denoisePlans, step.stepLength);
    const attentionMask = buildAttentionMask({
      batchSize: step.batchSize,
      stepLength: step.stepLength,
      numSlots: past.numSlots,
      blockSize,
      windowBlocks,
      slotBlocks: past.slotBlocks,
      stepBlocks: step.stepBlocks,
    });
    const prepared = performance.now();
    const output = await this.runner.run({
      batchSize: step.batchSize,
      stepLength: step.stepLength,
      pastLength: past.pastLength,
      inputIds: step.inputIds,
      positionIds: step.positionIds,
      pastKey: past.key,
      pastValue: past.value,
      pastVersion: past.version,
      pastPatch: past.patch,
      skipPresent: !plan.rows.some((row) => row.segments.some((segment) => segment.kind === "clean")),
      attentionMask,
      ...(logits.logitIndex ? { logitIndex: logits.logitIndex } : {}),
    });
    const ran = performance.now();
    const expectedLogits = logits.numRows * vocabSize;
    if (output.logits.length !== expectedLogits) {
      throw new Error(
        `graph returned ${output.logits.length} logits, expected ${expectedLogits} (${logits.numRows}x${vocabSize})`,
      );
    }
    const stats = this.usesLogitStats ? output.logitStats : undefined;
    if (stats && stats.length !== logits.numRows * 2) {
      throw new Error(`graph returned ${stats.length} logit statistics, expected ${logits.numRows * 2}`);
    }
    const present = {
      key: output.presentKey,
      value: output.presentValue,
      batchSize: step.batchSize,
      stepLength: step.stepLength,
    };
    // Update: cache clean blocks, choose every row's reveals, draw all their tokens at once (on the sampler
    // pool's threads too, when there is one), then write them and close finished blocks in row order.
    const steps: { sequence: Sequence; plan: DenoisePlan | null; draws: PositionDraw[] }[] = [];
    plan.rows.forEach((row, r) => {
      const sequence = plan.sequences[r] as Sequence;
      // Aborted while the forward ran (run() yields before it starts): its slot is gone, emit nothing.
      if (sequence.status !== "running") return;
      sequence.forwards++;
      row.segments.forEach((segment, s) => {
        const tokenOffset = s * blockSize;
        if (segment.kind === "clean") {
          sequence.kv?.appendFromPresent(segment.blockIndex, present, r, tokenOffset);
          sequence.cleanQueue.shift();
          return;
        }
        const denoisePlan = denoisePlans[r] ?? null;
        const draws = chooseReveals(
          sequence,
          denoisePlan,
          {
            logits: output.logits,
            offset: (position) => logits.offset(r, tokenOffset + position),
            stats: stats
              ? (position) => {
                  const at = logits.row(r, tokenOffset + position) * 2;
                  return { maxLogit: stats[at] as number, logSumExp: stats[at + 1] as number };
                }
              : null,
          },
          this.context,
        );
        steps.push({ sequence, plan: denoisePlan, draws });
      });
    });
    const tokens = this.drawTokens(steps.flatMap((step) => step.draws));
    const outputs: BlockOutput[] = [];
    let drawn = 0;
    for (const { sequence, plan: denoisePlan, draws } of steps) {
      const done = applyReveals(sequence, denoisePlan, draws, tokens.subarray(drawn, drawn + draws.length));
      drawn += draws.length;
      if (done) {
        const block = closeBlock(sequence, this.context);
        this.generatedTokens += block.tokenIds.length;
        outputs.push(block);
      }
    }
    const sampled = performance.now();
    this.forwards++;
    this.lastForwardMs = ran - prepared;
    this.counters.forwardMsTotal += ran - prepared;
    this.counters.prepareMsTotal += prepared - started;
    this.counters.samplingMsTotal += sampled - ran;
    this.counters.bytesIn += output.bytesIn;
    this.counters.bytesOut += output.bytesOut;
    this.counters.kvCopyBytes += past.bytesCopied;
    if (plan.rows.some((row) => row.segments.length * blockSize < step.stepLength)) this.counters.paddedForwards++;
    this.counters.stepTokenRows += step.batchSize * step.stepLength;
    this.counters.logitRows += logits.numRows;
    if (output.pastReused) this.counters.pastReuses++;
    if (output.pastPatched) this.counters.pastPatches++;
    return outputs;
  }

  /**
   * The tokens of every reveal of a forward: on the sampler pool's worker threads and this one when the pool
   * runs and every draw is a live one (a replay's recorded race noise is drawn here), else here, in order.
   */
  private drawTokens(draws: readonly PositionDraw[]): Int32Array {
    const pool = this.samplerPool;
    const work = draws.length * this.context.vocabSize;
    const live = draws.flatMap((draw) => ("uniform" in draw.noise ? [{ ...draw, uniform: draw.noise.uniform }] : []));
    if (
      pool &&
      pool.threads > 0 &&
      live.length > 1 &&
      live.length === draws.length &&
      work >= this.samplerPoolMinWork
    ) {
      return pool.sampleAll(live, this.context.scratch);
    }
    return Int32Array.from(draws, (draw) => drawToken(draw, this.context.scratch));
  }

  /** Where each row's logits are: every step position, or only those the rows' denoising steps read. */
  private logitLayout(
    rows: readonly RowPlan[],
    plans: readonly (DenoisePlan | null)[],
    stepLength: number,
  ): LogitLayout {
    const { blockSize, vocabSize } = this.context;
    if (!this.runner.takesLogitIndex) return allPositionsLayout(rows.length, stepLength, vocabSize);
    const needed = rows.map((row, r) => {
      if (this.logitPositions === "all") return Array.from({ length: stepLength }, (_, position) => position);
      const offset = row.segments.findIndex((segment) => segment.kind === "denoise") * blockSize;
      return (plans[r]?.logitPositions ?? []).map((position) => offset + position);
    });
    return gatheredLayout(needed, stepLength, vocabSize);
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

/**
 * Loads the model package in `options.modelDir`, opens an onnxruntime session on the first execution provider
 * that works, warms it up, and returns a ready engine.
 * @example
 * const engine = await createEngine({ modelDir: "models/kjv-bd3lm-b16" });
 * engine.addRequest({ requestId: "job_1", prompt: "In the beginning", params });
 * while (engine.hasWork()) for (const block of await engine.step()) process.stdout.write(block.text);
 */
export async function createEngine(options: EngineOptions & EngineInternalOptions): Promise<Engine> {
  const logger = options.logger ?? silentLogger;
  const pkg = await loadModelPackage(options.modelDir, { dtype: options.dtype ?? "float32" });
  const samplerThreads = options.samplerThreads ?? Math.min(SAMPLER_THREADS_MAX, availableParallelism() - 1);
  // The sampler's threads start while the session loads and warms up.
  const startingPool = SamplerPool.start(pkg.manifest.vocab_size, samplerThreads, logger);
  let runner: DenoiserRunner;
  try {
    runner = await createOrtRunner(pkg, {
      executionProviders: options.executionProviders ?? ["cpu"],
      logger,
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.allowSpinning !== undefined ? { allowSpinning: options.allowSpinning } : {}),
      ...(options.devicePast ? { devicePast: options.devicePast } : {}),
    });
  } catch (error) {
    await (await startingPool)?.close();
    throw error;
  }
  const samplerPool = await startingPool;
  logger.info(
    {
      model: pkg.manifest.name,
      dtype: pkg.dtype,
      executionProvider: runner.executionProvider,
      samplerThreads: samplerPool?.threads ?? 0,
    },
    "model loaded",
  );
  return createEngineWithRunner(pkg.manifest, runner, { ...options, logger, samplerPool });
}

export type { KvDtype };
