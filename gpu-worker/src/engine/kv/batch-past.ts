/**
 * The batched past tensors a forward reads: [layers, batch, heads, P, head_dim] for keys and values, row r
 * mirroring the slots of the r-th sequence's cache (slot s at columns [s * blockSize, (s + 1) * blockSize)).
 * P covers the largest slot count in the batch; shorter rows are padding the mask hides. The buffer is rebuilt
 * only when the rows change or a row outgrows P; otherwise only slots whose version changed are copied, so
 * in steady state a forward copies one block per sequence per block, not the whole window per step.
 */
import { allocateKv, type KvArray, type KvLayout } from "./layout.ts";
import type { SequenceKvCache } from "./sequence-cache.ts";

export interface BatchPastView {
  key: KvArray;
  value: KvArray;
  batchSize: number;
  /** Past length P in tokens (numSlots * blockSize). */
  pastLength: number;
  numSlots: number;
  /** `slotBlocks[row * numSlots + slot]`: absolute block in that slot, -1 = padding. */
  slotBlocks: Int32Array;
  /** Bytes copied into the buffer by this sync. */
  bytesCopied: number;
}

export class BatchPast {
  private rows: SequenceKvCache[] = [];
  private seenVersions: Uint32Array[] = [];
  private numSlots = 0;
  private key: KvArray;
  private value: KvArray;

  constructor(private readonly layout: KvLayout) {
    this.key = allocateKv(layout.dtype, 0);
    this.value = allocateKv(layout.dtype, 0);
  }

  /** Brings the buffer up to date with `caches` (one per batch row, in row order). */
  sync(caches: readonly SequenceKvCache[]): BatchPastView {
    const neededSlots = caches.reduce((most, cache) => Math.max(most, cache.highWaterSlots), 0);
    const sameRows = caches.length === this.rows.length && caches.every((cache, row) => cache === this.rows[row]);
    let bytesCopied = 0;
    if (!sameRows || neededSlots > this.numSlots) {
      this.rows = [...caches];
      this.numSlots = neededSlots;
      const elements =
        this.layout.numLayers * caches.length * this.layout.numHeads * this.pastLength() * this.layout.headDim;
      if (this.key.length !== elements) {
        this.key = allocateKv(this.layout.dtype, elements);
        this.value = allocateKv(this.layout.dtype, elements);
      }
      this.seenVersions = caches.map((cache) => new Uint32Array(cache.capacityBlocks));
    }
    caches.forEach((cache, row) => {
      const seen = this.seenVersions[row] as Uint32Array;
      for (let slot = 0; slot < cache.highWaterSlots; slot++) {
        if (seen[slot] === cache.slotVersions[slot]) continue;
        bytesCopied += this.copySlot(cache, row, slot);
        seen[slot] = cache.slotVersions[slot] as number;
      }
    });
    const slotBlocks = new Int32Array(caches.length * this.numSlots).fill(-1);
    caches.forEach((cache, row) => {
      for (let slot = 0; slot < cache.highWaterSlots; slot++) {
        slotBlocks[row * this.numSlots + slot] = cache.slotBlocks[slot] as number;
      }
    });
    return {
      key: this.key,
      value: this.value,
      batchSize: caches.length,
      pastLength: this.pastLength(),
      numSlots: this.numSlots,
      slotBlocks,
      bytesCopied,
    };
  }

  private pastLength(): number {
    return this.numSlots * this.layout.blockSize;
  }

  private copySlot(cache: SequenceKvCache, row: number, slot: number): number {
    const key = cache.keys[slot];
    const value = cache.values[slot];
    if (!key || !value) return 0;
    const { numLayers, numHeads, headDim, blockSize } = this.layout;
    const batchSize = this.rows.length;
    const pastLength = this.pastLength();
    const span = blockSize * headDim;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let head = 0; head < numHeads; head++) {
        const target = (((layer * batchSize + row) * numHeads + head) * pastLength + slot * blockSize) * headDim;
        const source = (layer * numHeads + head) * span;
        this.key.set(key.subarray(source, source + span), target);
        this.value.set(value.subarray(source, source + span), target);
      }
    }
    return 2 * key.byteLength;
  }

  /** Drops the buffer (e.g. when the engine goes idle). */
  clear(): void {
    this.rows = [];
    this.seenVersions = [];
    this.numSlots = 0;
    this.key = allocateKv(this.layout.dtype, 0);
    this.value = allocateKv(this.layout.dtype, 0);
  }
}
