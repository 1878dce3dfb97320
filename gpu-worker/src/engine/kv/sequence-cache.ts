/**
 * The KV cache of one sequence: the keys/values of its most recent committed blocks, at most `capacityBlocks`
 * (the model's context minus one block: the block being denoised fills the rest of the window). Blocks live
 * in slots; appending to a full cache reuses the slot of the oldest block, which is how the window slides.
 * Slot order is irrelevant to attention (keys carry their rotary positions), so sliding never moves data.
 *
 * Storage is one array per keys/values laid out [layers, heads, allocatedSlots * blockSize, head_dim], so the
 * used slots of a (layer, head) are one contiguous run: copying a sequence into a batch buffer is one copy per
 * (layer, head). Storage grows by doubling up to the capacity (short documents stay small). Each slot has a
 * version so a batch buffer mirroring the cache copies only what changed.
 */
import { allocateKv, type KvArray, type KvLayout } from "./layout.ts";

export interface PresentSource {
  key: KvArray;
  value: KvArray;
  batchSize: number;
  stepLength: number;
}

const INITIAL_SLOTS = 4;

export class SequenceKvCache {
  key: KvArray;
  value: KvArray;
  allocatedSlots = 0;
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
    this.key = allocateKv(layout.dtype, 0);
    this.value = allocateKv(layout.dtype, 0);
    this.slotBlocks = new Int32Array(capacityBlocks).fill(-1);
    this.slotVersions = new Uint32Array(capacityBlocks);
  }

  get numBlocks(): number {
    return this.numBlocksHeld;
  }

  /** Elements of one slot within one (layer, head) run. */
  get slotSpan(): number {
    return this.layout.blockSize * this.layout.headDim;
  }

  /** Offset of slot `slot` of (layer, head) in `key` / `value`. */
  offsetOf(layer: number, head: number, slot: number): number {
    return ((layer * this.layout.numHeads + head) * this.allocatedSlots + slot) * this.slotSpan;
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

  private ensureSlots(slots: number): void {
    if (slots <= this.allocatedSlots) return;
    const { numLayers, numHeads, dtype } = this.layout;
    const allocated = Math.min(this.capacityBlocks, Math.max(slots, INITIAL_SLOTS, 2 * this.allocatedSlots));
    const key = allocateKv(dtype, numLayers * numHeads * allocated * this.slotSpan);
    const value = allocateKv(dtype, key.length);
    const used = this.highWaterSlots * this.slotSpan;
    for (let run = 0; run < numLayers * numHeads; run++) {
      const source = run * this.allocatedSlots * this.slotSpan;
      key.set(this.key.subarray(source, source + used), run * allocated * this.slotSpan);
      value.set(this.value.subarray(source, source + used), run * allocated * this.slotSpan);
    }
    this.key = key;
    this.value = value;
    this.allocatedSlots = allocated;
  }

  /**
   * Stores block `blockIndex` from a graph's present tensors ([L, B, H, Q, D]): batch row `row`, step tokens
   * `[tokenOffset, tokenOffset + blockSize)`. Drops the oldest block when full. Returns the slot written.
   */
  appendFromPresent(blockIndex: number, present: PresentSource, row: number, tokenOffset: number): number {
    if (this.capacityBlocks === 0) return -1;
    const { numLayers, numHeads, headDim } = this.layout;
    const expected = numLayers * present.batchSize * numHeads * present.stepLength * headDim;
    if (present.key.length !== expected || present.value.length !== expected) {
      // A forward that skipped its present (ForwardInputs.skipPresent) cannot commit a block.
      throw new Error(
        `present keys/values hold ${present.key.length}/${present.value.length} elements, expected ${expected} ` +
          `([${numLayers}, ${present.batchSize}, ${numHeads}, ${present.stepLength}, ${headDim}])`,
      );
    }
    const slot = this.nextSlot();
    this.ensureSlots(slot + 1);
    const span = this.slotSpan;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let head = 0; head < numHeads; head++) {
        const source =
          (((layer * present.batchSize + row) * numHeads + head) * present.stepLength + tokenOffset) * headDim;
        const target = this.offsetOf(layer, head, slot);
        this.key.set(present.key.subarray(source, source + span), target);
        this.value.set(present.value.subarray(source, source + span), target);
      }
    }
    if ((this.slotBlocks[slot] as number) < 0) this.numBlocksHeld++;
    this.slotBlocks[slot] = blockIndex;
    this.slotVersions[slot] = (this.slotVersions[slot] as number) + 1;
    this.highWaterSlots = Math.max(this.highWaterSlots, slot + 1);
    return slot;
  }

  /** Host bytes held by the storage, keys and values. */
  bytesAllocated(): number {
    return this.key.byteLength + this.value.byteLength;
  }
}
