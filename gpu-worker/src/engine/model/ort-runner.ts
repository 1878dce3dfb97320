/**
 * The onnxruntime DenoiserRunner: one session per package, checked against its manifest at load (names, types
 * and fixed dimensions, then a warm-up probe), optionally keeping the batched past on the device between
 * forwards (device-past.ts). A refused package releases its session before the error reaches the caller.
 */
import { basename } from "node:path";
import * as ort from "onnxruntime-node";
import { allocateKv, type KvArray, type KvDtype } from "../kv/layout.ts";
import type { ExecutionProviderName } from "../types.ts";
import { DevicePastCache } from "./device-past.ts";
import type { ModelPackage } from "./model-package.ts";
import type { DevicePastMode, OrtRunnerOptions } from "./ort-options.ts";
import { checkGraph, createSession } from "./ort-session.ts";
import type { DenoiserRunner, ForwardInputs, ForwardOutputs } from "./runner.ts";
import { warmUp } from "./warm-up.ts";

/**
 * Only WebGPU in "auto": its outputs can stay on the device in onnxruntime-node ("gpu-buffer"); the CPU
 * provider reads the host buffer in place already, and the CUDA provider is not verified here.
 */
function usesDevicePast(mode: DevicePastMode, provider: ExecutionProviderName): boolean {
  return mode === "on" || mode === "full" || (mode === "auto" && provider === "webgpu");
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
  try {
    checkGraph(session, manifest, dtype, basename(pkg.graphPath));
  } catch (error) {
    // A refused package must not keep its session (and the graph's memory) alive in a process that goes on.
    await session.release().catch(() => {});
    throw error;
  }
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
  try {
    await warmUp(runner, manifest, options.warmupRuns ?? 2);
  } catch (error) {
    await runner.close().catch(() => {});
    throw error;
  }
  return runner;
}

/**
 * Runs the step shapes of a document's start (one block, then a folded commit) on an empty past; with
 * `logit_index`, logits for one position (first hitting), and checks that the graph returned just those.
 */

export type { DevicePastMode, OrtRunnerOptions } from "./ort-options.ts";
