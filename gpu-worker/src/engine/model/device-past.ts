/**
 * Past keys/values kept on the execution provider's device between forwards, so a GPU is not sent the whole
 * window on every call (on the H200 at batch 8 with a full window that upload was 595 MB and most of a 274 ms
 * call). The engine's batched past (kv/batch-past.ts) changes only when a block is committed, a row joins or
 * leaves, or the window grows: once per block per sequence, not once per denoising step. Each version of it
 * is uploaded once, through a helper session (an Identity graph built by onnx-writer.ts) whose outputs stay on
 * the device, and those device tensors are fed to the denoiser until the version changes.
 *
 * State: up to MAX_CACHED_PASTS uploaded pasts, keyed by BatchPast's version (the engine alternates a prefill
 * and a decode buffer), each holding two device tensors. Lifecycle: created with the runner; entries are
 * disposed when evicted and on close. Trade-off: one extra session.run per change of the past, and device memory
 * for up to two batched pasts besides what the denoiser allocates.
 */
import * as ort from "onnxruntime-node";
import type { KvArray, KvDtype } from "../kv/layout.ts";
import type { ExecutionProviderName } from "../types.ts";
import { encodeOnnxModel, OnnxElementType } from "./onnx-writer.ts";

/** One for the prefill buffer, one for the decode buffer. */
const MAX_CACHED_PASTS = 2;
const PAST_DIMS = ["layers", "batch", "heads", "past", "head_dim"] as const;

export interface DevicePastTensors {
  key: ort.Tensor;
  value: ort.Tensor;
  /** Bytes sent to the device for this forward's past (0 when the version was already there). */
  uploadedBytes: number;
}

interface CachedPast {
  version: number;
  key: ort.Tensor;
  value: ort.Tensor;
}

/** The Identity graph that copies a past pair onto the device: inputs key/value, outputs key_out/value_out. */
export function pastUploadGraph(dtype: KvDtype): Uint8Array {
  const elementType = OnnxElementType[dtype];
  const info = (name: string) => ({ name, elementType, dims: PAST_DIMS });
  return encodeOnnxModel({
    name: "bd3_past_upload",
    opset: 17,
    nodes: [
      { opType: "Identity", inputs: ["key"], outputs: ["key_out"] },
      { opType: "Identity", inputs: ["value"], outputs: ["value_out"] },
    ],
    inputs: [info("key"), info("value")],
    outputs: [info("key_out"), info("value_out")],
  });
}

export class DevicePastCache {
  private entries: CachedPast[] = [];

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly dtype: KvDtype,
  ) {}

  /**
   * `provider` is the denoiser's execution provider: the outputs stay on its device ("gpu-buffer"); on the CPU
   * provider (tests) they are ordinary CPU tensors, which exercises the same bookkeeping.
   */
  static async create(provider: ExecutionProviderName, dtype: KvDtype): Promise<DevicePastCache> {
    const session = await ort.InferenceSession.create(pastUploadGraph(dtype), {
      executionProviders: [provider],
      ...(provider === "cpu" ? {} : { preferredOutputLocation: "gpu-buffer" as const }),
    });
    return new DevicePastCache(session, dtype);
  }

  /** The device tensors of past `version` ([L, B, H, P, D]), uploading `key` / `value` if it is not there. */
  async get(version: number, key: KvArray, value: KvArray, dims: readonly number[]): Promise<DevicePastTensors> {
    const cached = this.entries.find((entry) => entry.version === version);
    if (cached) {
      // Most recently used last.
      this.entries = [...this.entries.filter((entry) => entry !== cached), cached];
      return { key: cached.key, value: cached.value, uploadedBytes: 0 };
    }
    const results = await this.session.run({
      key: new ort.Tensor(this.dtype, key, dims),
      value: new ort.Tensor(this.dtype, value, dims),
    });
    const entry: CachedPast = {
      version,
      key: results.key_out as ort.Tensor,
      value: results.value_out as ort.Tensor,
    };
    this.entries.push(entry);
    while (this.entries.length > MAX_CACHED_PASTS) disposeEntry(this.entries.shift() as CachedPast);
    return { key: entry.key, value: entry.value, uploadedBytes: key.byteLength + value.byteLength };
  }

  async close(): Promise<void> {
    for (const entry of this.entries) disposeEntry(entry);
    this.entries = [];
    await this.session.release();
  }
}

function disposeEntry(entry: CachedPast): void {
  // CPU tensors own plain arrays (nothing to free); device tensors hold device memory until disposed.
  if (entry.key.location !== "cpu") entry.key.dispose();
  if (entry.value.location !== "cpu") entry.value.dispose();
}
