/**
 * onnxruntime-node implementation of the denoiser runner.
 * - Execution providers are tried in preference order; each one that fails to load is logged and the next is
 *   tried (a missing CUDA provider throws at session creation even with "cpu" listed after it).
 * - Feeds are filtered to the inputs the graph declares; declared outputs and the past dtype are checked
 *   against the manifest so a mismatched package fails at load, naming the field. A graph input the manifest
 *   does not name could never be fed, so it is refused at load too.
 * - `logit_index` (optional in the manifest) is fed when the manifest names it: the graph then requires it in
 *   every forward, and warm-up checks that the logits follow it. A graph whose `logit_index` is not flat ([M];
 *   packages exported before it was, [B, N]) is refused at load.
 * - `logit_stats` (optional) is returned when the manifest names it.
 * - Warm-up runs the shapes of the first steps so the first real request is not paying for them.
 * - Device past (`devicePast`, default on for the WebGPU provider): each version of the batched past is
 *   uploaded once and fed from the device until it changes (model/device-past.ts). If that path fails, it is
 *   logged, switched off, and the forward is run again with the past from the host.
 * `session.run` occupies the JS thread for the whole forward (STACK.md); the engine awaits it once per step.
 */
import type { ModelManifest } from "@bd3-serve/shared";
import * as ort from "onnxruntime-node";
import { allocateKv, type KvArray, type KvDtype } from "../kv/layout.ts";
import type { EngineLogger, ExecutionProviderName } from "../types.ts";
import { DevicePastCache } from "./device-past.ts";
import { ModelPackageError } from "./errors.ts";
import type { ModelPackage } from "./model-package.ts";
import type { DenoiserRunner, ForwardInputs, ForwardOutputs } from "./runner.ts";

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

/**
 * Only WebGPU in "auto": its outputs can stay on the device in onnxruntime-node ("gpu-buffer"); the CPU
 * provider reads the host buffer in place already, and the CUDA provider is not verified here.
 */
function usesDevicePast(mode: DevicePastMode, provider: ExecutionProviderName): boolean {
  return mode === "on" || mode === "full" || (mode === "auto" && provider === "webgpu");
}

async function createSession(
  pkg: ModelPackage,
  options: OrtRunnerOptions,
): Promise<{ session: ort.InferenceSession; provider: ExecutionProviderName }> {
  const failures: string[] = [];
  const preference: ExecutionProviderName[] =
    options.executionProviders.length > 0 ? options.executionProviders : ["cpu"];
  for (const [index, provider] of preference.entries()) {
    try {
      const session = await ort.InferenceSession.create(pkg.graphPath, {
        executionProviders: [provider],
        graphOptimizationLevel: "all",
        executionMode: "sequential",
        interOpNumThreads: 1,
        ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
        extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? "1" : "0" } } },
      });
      return { session, provider };
    } catch (error) {
      const message = (error as Error).message.split("\n")[0] ?? String(error);
      failures.push(`${provider}: ${message}`);
      const next = preference[index + 1];
      options.logger.warn(
        { executionProvider: provider, fallback: next ?? null, error: message },
        next
          ? `execution provider ${provider} unavailable, falling back to ${next}`
          : `execution provider ${provider} unavailable`,
      );
    }
  }
  throw new ModelPackageError(`no execution provider could run ${pkg.graphPath}: ${failures.join("; ")}`);
}

function checkGraph(session: ort.InferenceSession, manifest: ModelManifest, dtype: KvDtype): void {
  const { inputs, outputs } = manifest.io;
  for (const field of ["input_ids", "past_key", "past_value"] as const) {
    if (!session.inputNames.includes(inputs[field])) {
      throw new ModelPackageError(`manifest field "io.inputs.${field}": the graph has no input "${inputs[field]}"`);
    }
  }
  for (const field of ["logits", "present_key", "present_value"] as const) {
    if (!session.outputNames.includes(outputs[field])) {
      throw new ModelPackageError(`manifest field "io.outputs.${field}": the graph has no output "${outputs[field]}"`);
    }
  }
  if (inputs.logit_index !== undefined) {
    if (!session.inputNames.includes(inputs.logit_index)) {
      throw new ModelPackageError(
        `manifest field "io.inputs.logit_index": the graph has no input "${inputs.logit_index}"`,
      );
    }
    const index = session.inputMetadata.find((meta) => meta.name === inputs.logit_index);
    if (index?.isTensor && index.shape.length !== 1) {
      throw new ModelPackageError(
        `manifest field "io.inputs.logit_index": the graph takes it with ${index.shape.length} dimensions, the engine ` +
          "feeds flat indices [M] (a package exported before logit_index was flat: export it again)",
      );
    }
  }
  if (outputs.logit_stats !== undefined && !session.outputNames.includes(outputs.logit_stats)) {
    throw new ModelPackageError(
      `manifest field "io.outputs.logit_stats": the graph has no output "${outputs.logit_stats}"`,
    );
  }
  const named = new Set<string>(Object.values(inputs));
  const unnamed = session.inputNames.filter((name) => !named.has(name));
  if (unnamed.length > 0) {
    throw new ModelPackageError(
      `manifest field "io.inputs": the graph has inputs the manifest does not name (${unnamed.join(", ")})`,
    );
  }
  const past = session.inputMetadata.find((meta) => meta.name === inputs.past_key);
  if (past?.isTensor && past.type !== dtype) {
    throw new ModelPackageError(
      `manifest field "graphs.dtype": graph past_key is ${past.type}, manifest says ${dtype}`,
    );
  }
}

function asKvArray(tensor: ort.Tensor, dtype: KvDtype): KvArray {
  const data = tensor.data;
  if (dtype === "float32" && data instanceof Float32Array) return data;
  if (dtype === "float16" && data instanceof Uint16Array) return data;
  // A Float16Array (newer runtimes) carries the same bits.
  const view = data as ArrayBufferView;
  return dtype === "float16"
    ? new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2)
    : new Float32Array(view.buffer, view.byteOffset, view.byteLength / 4);
}

export async function createOrtRunner(pkg: ModelPackage, options: OrtRunnerOptions): Promise<DenoiserRunner> {
  const { manifest } = pkg;
  const dtype = pkg.dtype;
  const { session, provider } = await createSession(pkg, options);
  checkGraph(session, manifest, dtype);
  const declared = new Set(session.inputNames);
  for (const field of ["position_ids", "attention_mask"] as const) {
    if (!declared.has(manifest.io.inputs[field])) {
      options.logger.warn({ input: manifest.io.inputs[field] }, `graph does not declare ${field}; it is not fed`);
    }
  }
  const { num_layers: numLayers, num_heads: numHeads, head_dim: headDim } = manifest.architecture;
  const names = manifest.io;
  const logitIndexName = names.inputs.logit_index;
  const statsName = names.outputs.logit_stats;
  let devicePast: DevicePastCache | null = null;
  if (usesDevicePast(options.devicePast ?? "auto", provider)) {
    const patchOptions = {
      patches: options.devicePast !== "full",
      onPatchFailure: (error: Error) =>
        options.logger.warn(
          { executionProvider: provider, error: error.message },
          "patching the past on the device failed; whole versions are uploaded from now on",
        ),
    };
    devicePast = await DevicePastCache.create(provider, dtype, patchOptions).catch((error: unknown) => {
      options.logger.warn(
        { executionProvider: provider, error: (error as Error).message },
        "cannot keep the past on the device; it is uploaded every forward",
      );
      return null;
    });
  }
  /** The outputs of a forward that commits nothing: logits (and their statistics) only. */
  const withoutPresent = [names.outputs.logits, ...(statsName !== undefined ? [statsName] : [])];
  /** A forward's past goes through the device cache when it has a version and is not empty. */
  const readsDevicePast = (inputs: ForwardInputs): inputs is ForwardInputs & { pastVersion: number } =>
    inputs.pastVersion !== undefined && inputs.pastLength > 0;
  /** The past feeds of one forward: from the device cache when it holds (or takes) this version. */
  const pastFeeds = async (inputs: ForwardInputs, dims: number[]) => {
    if (devicePast && readsDevicePast(inputs)) {
      const { pastVersion, pastKey, pastValue, pastPatch } = inputs;
      const tensors = await devicePast.get(pastVersion, pastKey, pastValue, dims, pastPatch ?? null);
      return {
        key: tensors.key,
        value: tensors.value,
        bytes: tensors.uploadedBytes,
        reused: tensors.source === "cached",
        patched: tensors.source === "patched",
      };
    }
    return {
      key: new ort.Tensor(dtype, inputs.pastKey, dims),
      value: new ort.Tensor(dtype, inputs.pastValue, dims),
      bytes: inputs.pastKey.byteLength + inputs.pastValue.byteLength,
      reused: false,
      patched: false,
    };
  };

  const runner: DenoiserRunner = {
    executionProvider: provider,
    kvDtype: dtype,
    takesLogitIndex: logitIndexName !== undefined,
    async run(inputs: ForwardInputs): Promise<ForwardOutputs> {
      const { batchSize: b, stepLength: q, pastLength: p } = inputs;
      if ((logitIndexName !== undefined) !== (inputs.logitIndex !== undefined)) {
        throw new Error(
          logitIndexName !== undefined
            ? `the graph requires ${logitIndexName} (manifest io.inputs.logit_index) and none was given`
            : "logitIndex given for a graph without logit_index",
        );
      }
      const candidates: Record<string, ort.Tensor> = {
        [names.inputs.input_ids]: new ort.Tensor("int64", inputs.inputIds, [b, q]),
        [names.inputs.position_ids]: new ort.Tensor("int64", inputs.positionIds, [b, q]),
        [names.inputs.attention_mask]: new ort.Tensor("bool", inputs.attentionMask, [b, q, p + q]),
      };
      if (logitIndexName !== undefined && inputs.logitIndex !== undefined) {
        candidates[logitIndexName] = new ort.Tensor("int64", inputs.logitIndex, [inputs.logitIndex.length]);
      }
      const feeds: Record<string, ort.Tensor> = {};
      let bytesIn = 0;
      for (const [name, tensor] of Object.entries(candidates)) {
        if (!declared.has(name)) continue;
        feeds[name] = tensor;
        bytesIn += (tensor.data as ArrayBufferView).byteLength;
      }
      const pastDims = [numLayers, b, numHeads, p, headDim];
      let results: ort.InferenceSession.OnnxValueMapType;
      let pastReused = false;
      let pastPatched = false;
      const pastOnDevice = devicePast !== null && readsDevicePast(inputs);
      try {
        const past = await pastFeeds(inputs, pastDims);
        pastReused = past.reused;
        pastPatched = past.patched;
        const pastFed = { ...feeds, [names.inputs.past_key]: past.key, [names.inputs.past_value]: past.value };
        results = inputs.skipPresent ? await session.run(pastFed, withoutPresent) : await session.run(pastFed);
        bytesIn += past.bytes;
      } catch (error) {
        if (devicePast && pastOnDevice) {
          // The device path is an optimisation: if the runtime refuses it, say so and carry on from the host.
          options.logger.warn(
            { executionProvider: provider, error: (error as Error).message },
            "keeping the past on the device failed; the past is uploaded every forward from now on",
          );
          await devicePast.close().catch(() => {});
          devicePast = null;
          return runner.run(inputs);
        }
        const shapes = Object.fromEntries(
          Object.entries(feeds).map(([name, tensor]) => [name, `${tensor.type}[${tensor.dims.join(",")}]`]),
        );
        options.logger.warn(
          { inputs: { ...shapes, past: `${dtype}[${pastDims.join(",")}]` }, error: (error as Error).message },
          "denoiser forward failed",
        );
        throw error;
      }
      const logits = results[names.outputs.logits] as ort.Tensor;
      const presentKey = results[names.outputs.present_key] as ort.Tensor | undefined;
      const presentValue = results[names.outputs.present_value] as ort.Tensor | undefined;
      const key = presentKey ? asKvArray(presentKey, dtype) : allocateKv(dtype, 0);
      const value = presentValue ? asKvArray(presentValue, dtype) : allocateKv(dtype, 0);
      const logitsData = logits.data as Float32Array;
      const stats = statsName !== undefined ? ((results[statsName] as ort.Tensor).data as Float32Array) : undefined;
      return {
        logits: logitsData,
        ...(stats ? { logitStats: stats } : {}),
        presentKey: key,
        presentValue: value,
        pastReused,
        pastPatched,
        bytesIn,
        bytesOut: logitsData.byteLength + key.byteLength + value.byteLength + (stats?.byteLength ?? 0),
      };
    },
    async close() {
      await devicePast?.close();
      await session.release();
    },
  };
  await warmUp(runner, manifest, options.warmupRuns ?? 2);
  return runner;
}

/**
 * Runs the step shapes of a document's start (one block, then a folded commit) on an empty past; with
 * `logit_index`, logits for one position (first hitting), and checks that the graph returned just those.
 */
async function warmUp(runner: DenoiserRunner, manifest: ModelManifest, runs: number): Promise<void> {
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
function checkLogitStats(logits: Float32Array, stats: Float32Array, manifest: ModelManifest): void {
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
