/**
 * Shapes and sizes of cached keys/values, from the manifest. Tensors follow the graph contract
 * (docs/model-package.md): past/present are [layers, batch, heads, tokens, head_dim]. A cached block keeps its
 * keys and values as [layers, heads, block_size, head_dim] in the graph's dtype; float16 is kept as raw
 * Uint16 bits and never converted.
 */
import type { ModelManifest } from "@bd3-serve/shared";

export type KvArray = Float32Array | Uint16Array;
export type KvDtype = "float32" | "float16";

export interface KvLayout {
  numLayers: number;
  numHeads: number;
  headDim: number;
  blockSize: number;
  dtype: KvDtype;
}

export function kvLayoutFromManifest(manifest: ModelManifest, dtype: KvDtype): KvLayout {
  return {
    numLayers: manifest.architecture.num_layers,
    numHeads: manifest.architecture.num_heads,
    headDim: manifest.architecture.head_dim,
    blockSize: manifest.block_size,
    dtype,
  };
}

export function bytesPerElement(dtype: KvDtype): number {
  return dtype === "float16" ? 2 : 4;
}

export function allocateKv(dtype: KvDtype, length: number): KvArray {
  return dtype === "float16" ? new Uint16Array(length) : new Float32Array(length);
}

/** Elements of keys (or values) of one block. */
export function blockElements(layout: KvLayout): number {
  return layout.numLayers * layout.numHeads * layout.blockSize * layout.headDim;
}

/** Host bytes one cached block takes, keys and values together. */
export function blockBytes(layout: KvLayout): number {
  return 2 * blockElements(layout) * bytesPerElement(layout.dtype);
}
