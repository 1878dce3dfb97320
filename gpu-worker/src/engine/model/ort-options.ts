/** Options of the onnxruntime runner (ort-runner.ts) and of its session (ort-session.ts). */
import type { EngineLogger, ExecutionProviderName } from "../types.ts";

export interface OrtRunnerOptions {
  executionProviders: ExecutionProviderName[];
  intraOpNumThreads?: number;
  allowSpinning?: boolean;
  logger: EngineLogger;
  /** Warm-up forwards per shape; default 2 (the first two runs at a new shape are slow). */
  warmupRuns?: number;
  /**
   * Keep the past on the device between forwards: "auto" (default) = "on" for the WebGPU provider only;
   * "on" grows and patches versions that differ by written slots of the same rows; "full" always uploads whole versions; "off".
   */
  devicePast?: DevicePastMode;
}

export type DevicePastMode = "auto" | "on" | "full" | "off";
