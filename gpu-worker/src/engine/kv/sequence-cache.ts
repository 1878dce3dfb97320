/**
 * The KV cache of one sequence: the keys/values of its most recent committed blocks, at most `capacityBlocks`
 * (the model's context minus one block: the block being denoised fills the rest of the window). Blocks live
 * in slots; appending to a full cache reuses the slot of the oldest block, which is how the window slides.
 * Slot order is irrelevant to attention (keys carry their rotary positions), so sliding never moves data.
 * Each slot has a version so a batch buffer mirroring the cache copies only what changed.
 */
import { allocateKv, blockElements, type KvArray, type KvLayout } from "./layout.ts";

export interface PresentSource {
  key: KvArray;
  value: KvArray;
  batchSize: number;
  stepLength: number;
}

export class SequenceKvCache {
  readonly keys: (KvArray | null)[];
  readonly values: (KvArray | null)[];
  /** Absolute block index held by each slot, -1 when empty. */
  readonly slotBlocks: Int32Array;
  readonly slotVersions: Uint32Array;
  /** Slots ever used: the prefix of slots a batch buffer must cover. */
  highWaterSlots = 0;
  private numBlocksHeld = 0;

  constructor(
    readonly layout: KvLayout,
    readonly capacityBlocks: number,
  ) {
    this.keys = new Array(capacityBlocks).fill(null);
    this.values = new Array(capacityBlocks).fill(null);
    this.slotBlocks = new Int32Array(capacityBlocks).fill(-1);
    this.slotVersions = new Uint32Array(capacityBlocks);
  }

  get numBlocks(): number {
    return this.numBlocksHeld;
  }

  /** Absolute indices of the cached blocks, oldest first. */
  blockIndices(): number[] {
    return Array.from(this.slotBlocks)
      .filter((block) => block >= 0)
      .sort((a, b) => a - b);
  }

  /** Slot that the next append writes: a never-used slot, else the oldest block's. */
  private nextSlot(): number {
    if (this.highWaterSlots < this.capacityBlocks) return this.highWaterSlots;
    let oldest = 0;
    for (let slot = 1; slot < this.capacityBlocks; slot++) {
      if ((this.slotBlocks[slot] as number) < (this.slotBlocks[oldest] as number)) oldest = slot;
    }
    return oldest;
  }

  /**
   * Stores block `blockIndex` from a graph's present tensors ([L, B, H, Q, D]): batch row `row`, step tokens
   * `[tokenOffset, tokenOffset + blockSize)`. Drops the oldest block when full. Returns the slot written.
   */
  appendFromPresent(blockIndex: number, present: PresentSource, row: number, tokenOffset: number): number {
    const { numLayers, numHeads, headDim, blockSize } = this.layout;
    if (this.capacityBlocks === 0) return -1;
    const slot = this.nextSlot();
    const elements = blockElements(this.layout);
    const key = this.keys[slot] ?? allocateKv(this.layout.dtype, elements);
    const value = this.values[slot] ?? allocateKv(this.layout.dtype, elements);
    const rowStride = blockSize * headDim;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let head = 0; head < numHeads; head++) {
        const source =
          (((layer * present.batchSize + row) * numHeads + head) * present.stepLength + tokenOffset) * headDim;
        const target = (layer * numHeads + head) * rowStride;
        key.set(present.key.subarray(source, source + rowStride), target);
        value.set(present.value.subarray(source, source + rowStride), target);
      }
    }
    this.keys[slot] = key;
    this.values[slot] = value;
    if ((this.slotBlocks[slot] as number) < 0) this.numBlocksHeld++;
    this.slotBlocks[slot] = blockIndex;
    this.slotVersions[slot] = (this.slotVersions[slot] as number) + 1;
    this.highWaterSlots = Math.max(this.highWaterSlots, slot + 1);
    return slot;
  }

  /** Host bytes held by allocated slots. */
  bytesAllocated(): number {
    const elementBytes = this.layout.dtype === "float16" ? 2 : 4;
    return this.keys.reduce((sum, key) => sum + (key ? 2 * key.length * elementBytes : 0), 0);
  }
}
