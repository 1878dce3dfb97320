/**
 * Schedule -> prepare -> **run model** -> update: one forward of the graph and nothing else, its output checked
 * against the layout the forward asked for (a graph that returns the wrong number of logits or statistics is
 * an error that ends the batch, never a silent misread).
 */
import type { DenoiserRunner, ForwardOutputs } from "../model/runner.ts";
import type { PreparedForward } from "./prepare-forward.ts";

export interface ModelOutput extends ForwardOutputs {
  /** `logitStats` when the engine uses them (EngineInternalOptions.ignoreLogitStats unset), else undefined. */
  stats: Float32Array | undefined;
}

export async function runModel(
  runner: DenoiserRunner,
  prepared: PreparedForward,
  vocabSize: number,
  usesLogitStats: boolean,
): Promise<ModelOutput> {
  const output = await runner.run(prepared.inputs);
  const { numRows } = prepared.logits;
  if (output.logits.length !== numRows * vocabSize) {
    throw new Error(
      `graph returned ${output.logits.length} logits, expected ${numRows * vocabSize} (${numRows}x${vocabSize})`,
    );
  }
  const stats = usesLogitStats ? output.logitStats : undefined;
  if (stats && stats.length !== numRows * 2) {
    throw new Error(`graph returned ${stats.length} logit statistics, expected ${numRows * 2}`);
  }
  return { ...output, stats };
}
