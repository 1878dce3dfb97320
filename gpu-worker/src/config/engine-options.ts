/**
 * The engine's options from the worker's settings: one mapping, used by the worker entry and by the stack
 * tests' in-process workers, so a setting that reaches one reaches the other.
 */
import type { EngineLogger, EngineOptions } from "../engine/types.ts";
import type { WorkerConfig } from "./worker-config.ts";

export function engineOptionsFromConfig(engine: WorkerConfig["engine"], logger?: EngineLogger): EngineOptions {
  return {
    modelDir: engine.modelDir,
    executionProviders: engine.executionProviders,
    maxBatchSize: engine.maxBatchSize,
    devicePast: engine.devicePast,
    ...(engine.dtype !== undefined ? { dtype: engine.dtype } : {}),
    ...(engine.intraOpNumThreads !== undefined ? { intraOpNumThreads: engine.intraOpNumThreads } : {}),
    ...(engine.samplerThreads !== undefined ? { samplerThreads: engine.samplerThreads } : {}),
    ...(engine.kvBudgetBytes !== undefined ? { kvBudgetBytes: engine.kvBudgetBytes } : {}),
    ...(logger ? { logger } : {}),
  };
}
