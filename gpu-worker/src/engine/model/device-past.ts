/**
 * Past keys/values kept on the execution provider's device between forwards, so a GPU is not sent the whole
 * window on every call (on the H200 at batch 8 with a full window that upload was 595 MB and most of a 274 ms
 * call). The engine's batched past (kv/batch-past.ts) changes only when a block is committed, a row joins or
 * leaves, or the window grows: once per block per sequence, not once per denoising step. Each version of it
 * is uploaded once, through a helper session (an Identity graph built by onnx-writer.ts) whose outputs stay on
 * the device, and those device tensors are fed to the denoiser until the version changes.
 *
 * When a version differs from one already on the device only by written slots of the same rows (BatchPast's
 * `patch`: while the window grows each committed block lands in a new slot and P grows by a block; once it is
 * full P stays constant and each row rewrites its oldest slot), the device copy is patched instead: a second
 * helper graph pads the copy to the new P (Pad, zeros: those columns are padding the mask hides unless a written
 * slot lands there) and writes those slots (ScatterND), uploading one block per row instead of the whole window
 * (about 1/64 of a full one). So after a row joins, its document's past crosses to the device once.
 *
 * State: up to MAX_CACHED_PASTS uploaded pasts, keyed by BatchPast's version (the engine alternates a prefill
 * and a decode buffer), each holding two device tensors. Lifecycle: created with the runner; entries are
 * disposed when evicted, replaced by a patched version, and on close. Trade-off: one extra session.run per
 * change of the past, and device memory for up to two batched pasts besides what the denoiser allocates (three
 * while a patch runs). On a device the helpers must run there entirely (CPU fallback is refused: a node on the
 * CPU would copy the whole past down and up). A patch graph that cannot be created or fails is reported once
 * and patching stops; whole uploads go on.
 */
import * as ort from "onnxruntime-node";
import type { PastPatch } from "../kv/batch-past.ts";
import { allocateKv, type KvArray, type KvDtype } from "../kv/layout.ts";
import type { ExecutionProviderName } from "../types.ts";
import { encodeOnnxModel, OnnxElementType } from "./onnx-writer.ts";

/** One for the prefill buffer, one for the decode buffer. */
const MAX_CACHED_PASTS = 2;
const PAST_DIMS = ["layers", "batch", "heads", "past", "head_dim"] as const;
const GROWN_PAST_DIMS = ["layers", "batch", "heads", "grown_past", "head_dim"] as const;
/** Pad's `pads` holds a begin and an end per axis of [L, B, H, P, D]; P's end is at this index. */
const PADS_PAST_END = PAST_DIMS.length + PAST_DIMS.indexOf("past");

export interface DevicePastTensors {
  key: ort.Tensor;
  value: ort.Tensor;
  /** Bytes sent to the device for this forward's past (0 when the version was already there). */
  uploadedBytes: number;
  /** How the version got there: already there, patched from an earlier one, or uploaded whole. */
  source: "cached" | "patched" | "uploaded";
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

/**
 * The graph that grows and patches a past pair on the device: inputs key/value [L, B, H, P, D], pads [10]
 * (Pad's layout: the begin then the end of each axis; only the end of P is non-zero, by how much P grew),
 * indices [N, 4] (layer, row, head, token) and key_rows/value_rows [N, D]; outputs key_out/value_out
 * [L, B, H, P', D].
 */
export function pastPatchGraph(dtype: KvDtype): Uint8Array {
  const elementType = OnnxElementType[dtype];
  const past = (name: string) => ({ name, elementType, dims: PAST_DIMS });
  const rows = (name: string) => ({ name, elementType, dims: ["rows", "head_dim"] });
  const grown = (name: string) => ({ name, elementType, dims: GROWN_PAST_DIMS });
  return encodeOnnxModel({
    name: "bd3_past_patch",
    opset: 17,
    nodes: [
      { opType: "Pad", inputs: ["key", "pads"], outputs: ["key_grown"] },
      { opType: "Pad", inputs: ["value", "pads"], outputs: ["value_grown"] },
      { opType: "ScatterND", inputs: ["key_grown", "indices", "key_rows"], outputs: ["key_out"] },
      { opType: "ScatterND", inputs: ["value_grown", "indices", "value_rows"], outputs: ["value_out"] },
    ],
    inputs: [
      past("key"),
      past("value"),
      { name: "pads", elementType: OnnxElementType.int64, dims: ["pads"] },
      { name: "indices", elementType: OnnxElementType.int64, dims: ["rows", "index"] },
      rows("key_rows"),
      rows("value_rows"),
    ],
    outputs: [grown("key_out"), grown("value_out")],
  });
}

export interface DevicePastOptions {
  /** Patch versions that differ by rewritten slots (default true); false: always upload whole versions. */
  patches?: boolean;
  /** Told once if patching cannot start or fails, and is switched off. */
  onPatchFailure?: (error: Error) => void;
}

export class DevicePastCache {
  private entries: CachedPast[] = [];

  private constructor(
    private readonly session: ort.InferenceSession,
    private patchSession: ort.InferenceSession | null,
    private readonly dtype: KvDtype,
    private readonly onPatchFailure: (error: Error) => void,
  ) {}

  /**
   * `provider` is the denoiser's execution provider: the outputs stay on its device ("gpu-buffer"); on the CPU
   * provider (tests) they are ordinary CPU tensors, which exercises the same bookkeeping.
   */
  static async create(
    provider: ExecutionProviderName,
    dtype: KvDtype,
    options: DevicePastOptions = {},
  ): Promise<DevicePastCache> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      // On a device, a helper node the provider cannot run would be placed on the CPU, copying the whole past
      // down and up again: worse than not keeping it there. Refusing here makes the runner log it and go on
      // without the device past (or without patches).
      ...(provider === "cpu"
        ? {}
        : {
            preferredOutputLocation: "gpu-buffer" as const,
            extra: { session: { disable_cpu_ep_fallback: "1" } },
          }),
    };
    const session = await ort.InferenceSession.create(pastUploadGraph(dtype), sessionOptions);
    const onPatchFailure = options.onPatchFailure ?? (() => {});
    let patchSession: ort.InferenceSession | null = null;
    if (options.patches !== false) {
      // Without patches the device past still saves an upload per denoising step: go on with whole uploads.
      patchSession = await ort.InferenceSession.create(pastPatchGraph(dtype), sessionOptions).catch(
        (error: unknown) => {
          onPatchFailure(error as Error);
          return null;
        },
      );
    }
    return new DevicePastCache(session, patchSession, dtype, onPatchFailure);
  }

  /**
   * The device tensors of past `version` ([L, B, H, P, D]): as they are if already there, else grown and patched
   * from `patch.baseVersion` when that one is, else uploaded whole from `key` / `value` (which hold `version`).
   */
  async get(
    version: number,
    key: KvArray,
    value: KvArray,
    dims: readonly number[],
    patch: PastPatch | null = null,
  ): Promise<DevicePastTensors> {
    const cached = this.entries.find((entry) => entry.version === version);
    if (cached) {
      // Most recently used last.
      this.entries = [...this.entries.filter((entry) => entry !== cached), cached];
      return { key: cached.key, value: cached.value, uploadedBytes: 0, source: "cached" };
    }
    // A base of another shape than the patch describes (never expected) is not patched: it is replaced.
    const base = patch
      ? this.entries.find(
          (entry) =>
            entry.version === patch.baseVersion &&
            entry.key.dims[1] === dims[1] &&
            entry.key.dims[3] === patch.basePastLength,
        )
      : undefined;
    if (base && patch && this.patchSession) {
      try {
        return await this.patchEntry(base, version, key, value, dims, patch, this.patchSession);
      } catch (error) {
        this.patchSession = null;
        this.onPatchFailure(error as Error);
      }
    }
    const results = await this.session.run({
      key: new ort.Tensor(this.dtype, key, dims),
      value: new ort.Tensor(this.dtype, value, dims),
    });
    const entry = this.remember(version, results);
    return { key: entry.key, value: entry.value, uploadedBytes: key.byteLength + value.byteLength, source: "uploaded" };
  }

  async close(): Promise<void> {
    for (const entry of this.entries) disposeEntry(entry);
    this.entries = [];
    await this.session.release();
    await this.patchSession?.release();
  }

  /** Writes the patch's slots (read from the host `key` / `value`) into a copy of `base` grown to P. */
  private async patchEntry(
    base: CachedPast,
    version: number,
    key: KvArray,
    value: KvArray,
    dims: readonly number[],
    patch: PastPatch,
    patchSession: ort.InferenceSession,
  ): Promise<DevicePastTensors> {
    const [numLayers = 0, batchSize = 0, numHeads = 0, pastLength = 0, headDim = 0] = dims;
    const { tokensPerSlot } = patch;
    const numRows = patch.slots.length * numLayers * numHeads * tokensPerSlot;
    const indices = new BigInt64Array(numRows * 4);
    const keyRows = allocateKv(this.dtype, numRows * headDim);
    const valueRows = allocateKv(this.dtype, numRows * headDim);
    let next = 0;
    for (const [row, slot] of patch.slots) {
      for (let layer = 0; layer < numLayers; layer++) {
        for (let head = 0; head < numHeads; head++) {
          // The slot's tokens of one (layer, row, head) are contiguous in the host buffer, as in the device one.
          const first = slot * tokensPerSlot;
          const source = (((layer * batchSize + row) * numHeads + head) * pastLength + first) * headDim;
          keyRows.set(key.subarray(source, source + tokensPerSlot * headDim), next * headDim);
          valueRows.set(value.subarray(source, source + tokensPerSlot * headDim), next * headDim);
          for (let token = 0; token < tokensPerSlot; token++, next++) {
            indices[next * 4] = BigInt(layer);
            indices[next * 4 + 1] = BigInt(row);
            indices[next * 4 + 2] = BigInt(head);
            indices[next * 4 + 3] = BigInt(first + token);
          }
        }
      }
    }
    const pads = new BigInt64Array(2 * PAST_DIMS.length);
    pads[PADS_PAST_END] = BigInt(pastLength - patch.basePastLength);
    const results = await patchSession.run({
      key: base.key,
      value: base.value,
      pads: new ort.Tensor("int64", pads, [pads.length]),
      indices: new ort.Tensor("int64", indices, [numRows, 4]),
      key_rows: new ort.Tensor(this.dtype, keyRows, [numRows, headDim]),
      value_rows: new ort.Tensor(this.dtype, valueRows, [numRows, headDim]),
    });
    // The base version is superseded (its BatchPast has moved on): free it now rather than at eviction.
    this.entries = this.entries.filter((entry) => entry !== base);
    disposeEntry(base);
    const entry = this.remember(version, results);
    const uploadedBytes = pads.byteLength + indices.byteLength + keyRows.byteLength + valueRows.byteLength;
    return { key: entry.key, value: entry.value, uploadedBytes, source: "patched" };
  }

  private remember(version: number, results: ort.InferenceSession.OnnxValueMapType): CachedPast {
    const entry: CachedPast = { version, key: results.key_out as ort.Tensor, value: results.value_out as ort.Tensor };
    this.entries.push(entry);
    while (this.entries.length > MAX_CACHED_PASTS) disposeEntry(this.entries.shift() as CachedPast);
    return entry;
  }
}

function disposeEntry(entry: CachedPast): void {
  // CPU tensors own plain arrays (nothing to free); device tensors hold device memory until disposed.
  if (entry.key.location !== "cpu") entry.key.dispose();
  if (entry.value.location !== "cpu") entry.value.dispose();
}
