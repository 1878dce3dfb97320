/**
 * Warm-up of a new runner: the shapes of the first steps run once, so the first real request does not pay for
 * them, and what the graph returns is checked against the manifest: the logits follow `logit_index` and
 * `logit_stats` when the graph has them, rows are `vocab_size` wide, and present K/V hold layers x heads x
 * head dim values per token (the probe behind graph-signature.ts, for dimensions a graph leaves symbolic).
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
      checkLogitsSize(output.logits.length, rows, manifest, logitIndex !== undefined);
      if (output.logitStats && output.logitStats.length !== rows * 2) {
        throw new ModelPackageError(
          `manifest field "io.outputs.logit_stats": the graph returned ${output.logitStats.length} values for ${rows} logits row(s), expected ${rows * 2}`,
        );
      }
      if (output.logitStats) checkLogitStats(output.logits, output.logitStats, manifest);
      checkPresentSize(output.presentKey.length, "present_key", stepLength, manifest);
      checkPresentSize(output.presentValue.length, "present_value", stepLength, manifest);
    }
  }
}

/**
 * Logits of the asked rows: a whole number of rows of another width is the vocabulary (graph-signature.ts
 * catches it from the declared shape; this catches a graph that declares the width symbolic).
 */
function checkLogitsSize(length: number, rows: number, manifest: ModelManifest, flat: boolean): void {
  const expected = rows * manifest.vocab_size;
  if (length === expected) return;
  if (length > 0 && length % rows === 0) {
    throw new ModelPackageError(
      `manifest field "vocab_size" is ${manifest.vocab_size}, the graph returned logits rows of ${length / rows}`,
    );
  }
  throw new ModelPackageError(
    `manifest field "${flat ? "io.inputs.logit_index" : "io.outputs.logits"}": the graph returned ${length} logits for ${rows} ${
      flat ? "asked" : "step"
    } position(s), expected ${expected}`,
  );
}

/**
 * The K/V of one batch row's step: layers x heads x step x head dim values, in the graph dtype (a float32
 * present read as float16 has twice as many elements, so the element type is covered too).
 */
function checkPresentSize(length: number, name: string, stepLength: number, manifest: ModelManifest): void {
  const { num_layers, num_heads, head_dim } = manifest.architecture;
  const perToken = num_layers * num_heads * head_dim;
  if (length === perToken * stepLength) return;
  throw new ModelPackageError(
    `manifest fields "architecture.num_layers" x "architecture.num_heads" x "architecture.head_dim" are ` +
      `${num_layers} x ${num_heads} x ${head_dim} = ${perToken} values per token, the graph's ${name} returned ` +
      `${length / stepLength} per token (${length} for ${stepLength} tokens)`,
  );
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
