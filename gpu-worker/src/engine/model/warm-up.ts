/**
 * Warm-up of a new runner: the shapes of the first steps run once, so the first real request does not pay for
 * them, and the logits are checked to follow `logit_index` and `logit_stats` when the graph has them.
 */
import type { ModelManifest } from "@bd3-serve/shared";
import { ModelPackageError } from "./errors.ts";
import type { DenoiserRunner } from "./runner.ts";

export async function warmUp(runner: DenoiserRunner, manifest: ModelManifest, runs: number): Promise<void> {
  const blockSize = manifest.block_size;
  for (const stepLength of [blockSize, 2 * blockSize]) {
    for (let i = 0; i < runs; i++) {
      const inputIds = new BigInt64Array(stepLength).fill(BigInt(manifest.mask_token_id));
      const positionIds = BigInt64Array.from({ length: stepLength }, (_, index) => BigInt(index));
      const logitIndex = runner.takesLogitIndex ? BigInt64Array.of(BigInt(stepLength - 1)) : undefined;
      const output = await runner.run({
        batchSize: 1,
        stepLength,
        pastLength: 0,
        inputIds,
        positionIds,
        pastKey: runner.kvDtype === "float16" ? new Uint16Array(0) : new Float32Array(0),
        pastValue: runner.kvDtype === "float16" ? new Uint16Array(0) : new Float32Array(0),
        attentionMask: new Uint8Array(stepLength * stepLength).fill(1),
        ...(logitIndex ? { logitIndex } : {}),
      });
      const rows = logitIndex ? logitIndex.length : stepLength;
      if (output.logitStats && output.logitStats.length !== rows * 2) {
        throw new ModelPackageError(
          `manifest field "io.outputs.logit_stats": the graph returned ${output.logitStats.length} values for ${rows} logits row(s), expected ${rows * 2}`,
        );
      }
      if (output.logitStats) checkLogitStats(output.logits, output.logitStats, manifest);
      const expected = rows * manifest.vocab_size;
      if (output.logits.length !== expected) {
        throw new ModelPackageError(
          `manifest field "${logitIndex ? "io.inputs.logit_index" : "io.outputs.logits"}": the graph returned ${output.logits.length} logits for ${
            logitIndex ? `${logitIndex.length} asked` : `${stepLength} step`
          } position(s), expected ${expected}`,
        );
      }
    }
  }
}

/**
 * The first row's `logit_stats` against its logits: the max with [MASK] excluded exactly (the same float32
 * values), the log-sum-exp to float32 accuracy. Catches a graph whose statistics leave out the wrong token.
 */
export function checkLogitStats(logits: Float32Array, stats: Float32Array, manifest: ModelManifest): void {
  const vocabSize = manifest.vocab_size;
  let max = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < vocabSize; v++) {
    if (v !== manifest.mask_token_id && (logits[v] as number) > max) max = logits[v] as number;
  }
  let sum = 0;
  for (let v = 0; v < vocabSize; v++) {
    if (v !== manifest.mask_token_id) sum += Math.exp((logits[v] as number) - max);
  }
  const logSumExp = max + Math.log(sum);
  const [graphMax = Number.NaN, graphLogSumExp = Number.NaN] = stats;
  if (graphMax !== max || !(Math.abs(graphLogSumExp - logSumExp) <= 1e-4 * Math.max(1, Math.abs(logSumExp)))) {
    throw new ModelPackageError(
      `manifest field "io.outputs.logit_stats": the graph says [${graphMax}, ${graphLogSumExp}] for a row whose max and ` +
        `log-sum-exp without [MASK] are [${max}, ${logSumExp}]`,
    );
  }
}
