/**
 * Drives the engine: while it has work, run one step, hand the finished blocks to the runner, record metrics,
 * and yield to the event loop so appends, heartbeats and the metrics server get their turn (a step holds the
 * JS thread for the whole forward). Sleeps when the engine is idle; `wake()` restarts it.
 */
import type { BlockOutput, Engine } from "../../engine/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";

/** Consecutive failed steps after which the engine is considered broken (the worker exits, see main.ts). */
export const ENGINE_MAX_CONSECUTIVE_FAILURES = 3;

export interface EngineLoopOptions {
  engine: Engine;
  metrics: WorkerMetrics;
  logger: Logger;
  maxBatchSize: number;
  onOutputs: (outputs: readonly BlockOutput[]) => void;
  /** Awaited before each step (backpressure from the edge). */
  beforeStep?: () => Promise<void>;
  onStepError: (error: unknown) => void;
  /** The engine failed ENGINE_MAX_CONSECUTIVE_FAILURES steps in a row. */
  onBroken: (error: unknown) => void;
}

export class EngineLoop {
  private running: Promise<void> | undefined;
  private isStopped = false;
  private consecutiveFailures = 0;
  private lastForwards = 0;
  private lastGeneratedTokens = 0;
  private lastInputBytes = 0;
  private lastPastReuses = 0;
  private lastPastPatches = 0;

  constructor(private readonly options: EngineLoopOptions) {
    const stats = options.engine.stats();
    this.lastForwards = stats.forwards;
    this.lastGeneratedTokens = stats.generatedTokens;
    this.lastInputBytes = stats.counters?.bytesIn ?? 0;
    this.lastPastReuses = stats.counters?.pastReuses ?? 0;
    this.lastPastPatches = stats.counters?.pastPatches ?? 0;
    this.recordGauges();
  }

  /** Starts stepping if the engine has work and the loop is not already running. */
  wake(): void {
    if (this.running !== undefined || this.isStopped) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops after the step in progress; resolves when the loop is idle. */
  async stop(): Promise<void> {
    this.isStopped = true;
    await this.running;
  }

  /** Resolves when the loop has nothing left to step (or is stopped). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async run(): Promise<void> {
    const { engine, metrics, logger } = this.options;
    while (!this.isStopped && engine.hasWork()) {
      await this.options.beforeStep?.();
      if (this.isStopped || !engine.hasWork()) break;
      const startedAt = performance.now();
      let outputs: BlockOutput[] = [];
      try {
        outputs = await engine.step();
        this.consecutiveFailures = 0;
      } catch (error) {
        this.consecutiveFailures++;
        logger.error({ err: error, consecutive_failures: this.consecutiveFailures }, "engine step failed");
        this.options.onStepError(error);
        if (this.consecutiveFailures >= ENGINE_MAX_CONSECUTIVE_FAILURES) {
          this.isStopped = true;
          this.options.onBroken(error);
        }
      }
      metrics.stepLatency.observe((performance.now() - startedAt) / 1_000);
      this.recordStats();
      if (outputs.length > 0) this.options.onOutputs(outputs);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.recordGauges();
  }

  private recordStats(): void {
    const { metrics } = this.options;
    const stats = this.options.engine.stats();
    const forwards = stats.forwards - this.lastForwards;
    const tokens = stats.generatedTokens - this.lastGeneratedTokens;
    this.lastForwards = stats.forwards;
    this.lastGeneratedTokens = stats.generatedTokens;
    if (forwards > 0) {
      metrics.forwards.inc(forwards);
      metrics.forwardLatency.observe(stats.lastForwardMs / 1_000);
    }
    if (stats.counters) {
      metrics.forwardInputBytes.inc(stats.counters.bytesIn - this.lastInputBytes);
      metrics.pastReuses.inc(stats.counters.pastReuses - this.lastPastReuses);
      metrics.pastPatches.inc(stats.counters.pastPatches - this.lastPastPatches);
      this.lastInputBytes = stats.counters.bytesIn;
      this.lastPastReuses = stats.counters.pastReuses;
      this.lastPastPatches = stats.counters.pastPatches;
    }
    if (tokens > 0) {
      metrics.generatedTokens.inc(tokens);
      metrics.recordTokens(tokens);
    }
    this.recordGauges(stats);
  }

  private recordGauges(stats = this.options.engine.stats()): void {
    const { metrics, maxBatchSize } = this.options;
    metrics.jobsRunning.set(stats.numRunning);
    metrics.jobsWaiting.set(stats.numWaiting);
    metrics.batchOccupancy.set(stats.numRunning / maxBatchSize);
    metrics.kvBytesInUse.set(stats.kvBytesInUse);
    metrics.kvBudgetBytes.set(stats.kvBudgetBytes);
  }
}
