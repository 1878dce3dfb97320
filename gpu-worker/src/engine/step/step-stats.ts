/**
 * A step's contribution to the engine's counters, computed from what the step produced (the prepared forward,
 * the model output, the blocks) and its three timestamps: nothing here changes a sequence.
 */
import type { BlockOutput, EngineCounters } from "../types.ts";
import type { PreparedForward } from "./prepare-forward.ts";
import type { ModelOutput } from "./run-model.ts";

export interface StepTimings {
  startedMs: number;
  preparedMs: number;
  ranMs: number;
  sampledMs: number;
}

export interface StepRecord {
  forwardMs: number;
  generatedTokens: number;
}

export function recordStep(
  counters: EngineCounters,
  prepared: PreparedForward,
  output: ModelOutput,
  blocks: readonly BlockOutput[],
  timings: StepTimings,
  blockSize: number,
): StepRecord {
  const { step, past, logits, plan } = prepared;
  const forwardMs = timings.ranMs - timings.preparedMs;
  counters.forwardMsTotal += forwardMs;
  counters.prepareMsTotal += timings.preparedMs - timings.startedMs;
  counters.samplingMsTotal += timings.sampledMs - timings.ranMs;
  counters.bytesIn += output.bytesIn;
  counters.bytesOut += output.bytesOut;
  counters.kvCopyBytes += past.bytesCopied;
  if (plan.rows.some((row) => row.segments.length * blockSize < step.stepLength)) counters.paddedForwards++;
  counters.stepTokenRows += step.batchSize * step.stepLength;
  counters.logitRows += logits.numRows;
  if (output.pastReused) counters.pastReuses++;
  if (output.pastPatched) counters.pastPatches++;
  return { forwardMs, generatedTokens: blocks.reduce((sum, block) => sum + block.tokenIds.length, 0) };
}
