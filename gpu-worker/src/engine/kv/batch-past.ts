/**
 * The batched past tensors a forward reads: [layers, batch, heads, P, head_dim] for keys and values, row r
 * mirroring the slots of the r-th sequence's cache (slot s at columns [s * blockSize, (s + 1) * blockSize)).
 * P covers the largest slot count in the batch; shorter rows are padding the mask hides. Only slots whose
 * version changed are copied, so in steady state a forward copies one block per sequence per block, not the
 * whole window per step. When a row outgrows P the buffer is re-laid out in place (no new allocation, no page
 * faults); only a change of rows (a sequence joined or left) copies every row again from the caches. The
 * backing arrays are sized for every row's whole window when first needed and reused as exact-shape views.
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
  /**
   * Identifies the buffer's contents and shape, unique across every BatchPast of the process: a sync that
   * changes nothing keeps it, anything else (a slot copied, P grown, rows changed, cleared) gives a new one.
   */
  version: number;
  /**
   * When this sync kept the rows and only rewrote or added slots (a committed block lands in a new slot while
   * the window grows, or rewrites its oldest slot once it is full): the version it started from, that version's
   * P and the (row, slot) pairs written, so a device copy of that version can be grown and patched instead of
   * replaced. Null after any other change (rows joined or left, cleared), from an empty buffer, and when
   * nothing changed.
   */
  patch: PastPatch | null;
}

export interface PastPatch {
  baseVersion: number;
  /**
   * P of the base version in tokens (<= this version's). Columns from there on are new: padding except where a
   * written slot lands, so a copy of the base grown with zeros and then patched holds every unmasked column.
   */
  basePastLength: number;
  /** [row, slot] pairs; a slot is `tokensPerSlot` tokens of every (layer, head). */
  slots: [number, number][];
  tokensPerSlot: number;
}

/** Source of BatchPast versions (process-wide, so versions of different buffers never collide). */
let lastVersion = 0;
function nextVersion(): number {
  lastVersion++;
  return lastVersion;
}

export class BatchPast {
  private rows: SequenceKvCache[] = [];
  private seenVersions: Uint32Array[] = [];
  private numSlots = 0;
  private backingKey: KvArray;
  private backingValue: KvArray;
  private key: KvArray;
  private value: KvArray;
  private version = nextVersion();

  constructor(private readonly layout: KvLayout) {
    this.backingKey = allocateKv(layout.dtype, 0);
    this.backingValue = allocateKv(layout.dtype, 0);
    this.key = this.backingKey;
    this.value = this.backingValue;
  }

  /** Brings the buffer up to date with `caches` (one per batch row, in row order). */
  sync(caches: readonly SequenceKvCache[]): BatchPastView {
    const neededSlots = caches.reduce((most, cache) => Math.max(most, cache.highWaterSlots), 0);
    const sameRows = caches.length === this.rows.length && caches.every((cache, row) => cache === this.rows[row]);
    let bytesCopied = 0;
    const slotsBefore = this.numSlots;
    const versionBefore = this.version;
    const rewritten: [number, number][] = [];
    if (!sameRows) {
      this.rows = [...caches];
      this.resize(neededSlots, false);
      this.seenVersions = caches.map((cache) => Uint32Array.from(cache.slotVersions));
      caches.forEach((cache, row) => {
        bytesCopied += this.copySlots(cache, row, 0, cache.highWaterSlots);
      });
    } else {
      if (neededSlots > this.numSlots) bytesCopied += this.resize(neededSlots, true);
      caches.forEach((cache, row) => {
        const seen = this.seenVersions[row] as Uint32Array;
        for (let slot = 0; slot < cache.highWaterSlots; slot++) {
          if (seen[slot] === cache.slotVersions[slot]) continue;
          bytesCopied += this.copySlots(cache, row, slot, slot + 1);
          seen[slot] = cache.slotVersions[slot] as number;
          rewritten.push([row, slot]);
        }
      });
    }
    const isChanged = !sameRows || bytesCopied > 0 || slotsBefore !== this.numSlots;
    const isPatch = isChanged && sameRows && slotsBefore > 0;
    if (isChanged) this.version = nextVersion();
    const slotBlocks = new Int32Array(caches.length * this.numSlots).fill(-1);
    caches.forEach((cache, row) => {
      slotBlocks.set(cache.slotBlocks.subarray(0, cache.highWaterSlots), row * this.numSlots);
    });
    return {
      key: this.key,
      value: this.value,
      batchSize: caches.length,
      pastLength: this.pastLength(),
      numSlots: this.numSlots,
      slotBlocks,
      bytesCopied,
      version: this.version,
      patch: isPatch
        ? {
            baseVersion: versionBefore,
            basePastLength: slotsBefore * this.layout.blockSize,
            slots: rewritten,
            tokensPerSlot: this.layout.blockSize,
          }
        : null,
    };
  }

  /**
   * Sets P to `numSlots` blocks for the current rows. With `keep`, moves every (layer, row, head) run to its new
   * offset in place, last run first (targets never overlap runs not yet moved because P only grows).
   * Returns the bytes moved.
   */
  private resize(numSlots: number, keep: boolean): number {
    const { numLayers, numHeads, headDim, blockSize } = this.layout;
    const runs = numLayers * this.rows.length * numHeads;
    const oldRun = this.numSlots * blockSize * headDim;
    const newRun = numSlots * blockSize * headDim;
    const elements = runs * newRun;
    if (elements > this.backingKey.length) {
      // Room for every row's whole window at once: P then grows without further allocations.
      const mostSlots = this.rows.reduce((most, cache) => Math.max(most, cache.capacityBlocks), numSlots);
      const grown = Math.max(runs * mostSlots * blockSize * headDim, Math.ceil(this.backingKey.length * 1.5));
      const key = allocateKv(this.layout.dtype, grown);
      const value = allocateKv(this.layout.dtype, grown);
      if (keep) {
        key.set(this.key);
        value.set(this.value);
      }
      this.backingKey = key;
      this.backingValue = value;
    }
    let moved = 0;
    if (keep && oldRun > 0 && newRun !== oldRun) {
      for (let run = runs - 1; run >= 0; run--) {
        this.backingKey.copyWithin(run * newRun, run * oldRun, (run + 1) * oldRun);
        this.backingValue.copyWithin(run * newRun, run * oldRun, (run + 1) * oldRun);
      }
      moved = 2 * runs * oldRun * this.backingKey.BYTES_PER_ELEMENT;
    }
    this.numSlots = numSlots;
    this.key = this.backingKey.subarray(0, elements);
    this.value = this.backingValue.subarray(0, elements);
    return moved;
  }

  private pastLength(): number {
    return this.numSlots * this.layout.blockSize;
  }

  /** Copies slots [from, to) of a cache into its row: one contiguous run per (layer, head). */
  private copySlots(cache: SequenceKvCache, row: number, from: number, to: number): number {
    if (to <= from) return 0;
    const { numLayers, numHeads, headDim, blockSize } = this.layout;
    const batchSize = this.rows.length;
    const pastLength = this.pastLength();
    const length = (to - from) * cache.slotSpan;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let head = 0; head < numHeads; head++) {
        const target = (((layer * batchSize + row) * numHeads + head) * pastLength + from * blockSize) * headDim;
        const source = cache.offsetOf(layer, head, from);
        this.key.set(cache.key.subarray(source, source + length), target);
        this.value.set(cache.value.subarray(source, source + length), target);
      }
    }
    return 2 * numLayers * numHeads * length * cache.key.BYTES_PER_ELEMENT;
  }

  /** Drops the buffer (e.g. after a failed forward). */
  clear(): void {
    if (this.backingKey.length === 0 && this.rows.length === 0) return;
    this.version = nextVersion();
    this.rows = [];
    this.seenVersions = [];
    this.numSlots = 0;
    this.backingKey = allocateKv(this.layout.dtype, 0);
    this.backingValue = allocateKv(this.layout.dtype, 0);
    this.key = this.backingKey;
    this.value = this.backingValue;
  }
}
