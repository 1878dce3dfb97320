import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchPast } from "./batch-past.ts";
import { KvBudget } from "./kv-budget.ts";
import { blockBytes, type KvLayout } from "./layout.ts";
import { SequenceKvCache } from "./sequence-cache.ts";

const layout: KvLayout = { numLayers: 2, numHeads: 2, headDim: 3, blockSize: 4, dtype: "float32" };

/** A present tensor [L, 1, H, Q, D] whose every element encodes (block, layer, head, token, dim). */
function presentFor(blockIndex: number, stepLength = layout.blockSize) {
  const { numLayers, numHeads, headDim } = layout;
  const key = new Float32Array(numLayers * numHeads * stepLength * headDim);
  const value = new Float32Array(key.length);
  for (let l = 0; l < numLayers; l++)
    for (let h = 0; h < numHeads; h++)
      for (let t = 0; t < stepLength; t++)
        for (let d = 0; d < headDim; d++) {
          const i = ((l * numHeads + h) * stepLength + t) * headDim + d;
          key[i] = blockIndex * 10_000 + l * 1_000 + h * 100 + t * 10 + d;
          value[i] = -key[i];
        }
  return { key, value, batchSize: 1, stepLength };
}

describe("sequence KV cache", () => {
  it("keeps the most recent blocks up to its capacity, dropping the oldest first", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 30 }), (capacity, appends) => {
        const cache = new SequenceKvCache(layout, capacity);
        for (let block = 0; block < appends; block++) cache.appendFromPresent(block, presentFor(block), 0, 0);
        const expected = Array.from(
          { length: Math.min(appends, capacity) },
          (_, i) => appends - Math.min(appends, capacity) + i,
        );
        expect(cache.blockIndices()).toEqual(expected);
        expect(cache.numBlocks).toBe(expected.length);
        expect(cache.bytesAllocated()).toBeGreaterThanOrEqual(expected.length * blockBytes(layout));
        expect(cache.bytesAllocated()).toBeLessThanOrEqual(capacity * blockBytes(layout));
        expect(cache.highWaterSlots).toBeLessThanOrEqual(capacity);
      }),
    );
  });

  it("copies a block out of a longer, batched present at its row and token offset", () => {
    const cache = new SequenceKvCache(layout, 2);
    const present = presentFor(7, 8);
    const slot = cache.appendFromPresent(7, present, 0, 4);
    // layer 1, head 0, token 2 of the block = step token 6
    expect(cache.key[cache.offsetOf(1, 0, slot) + 2 * 3 + 1]).toBe(7 * 10_000 + 1_000 + 60 + 1);
  });
});

describe("sequence KV cache, misuse", () => {
  it("refuses a present that does not hold the step's keys and values (a forward that skipped it)", () => {
    const cache = new SequenceKvCache(layout, 2);
    const skipped = { key: new Float32Array(0), value: new Float32Array(0), batchSize: 1, stepLength: 4 };
    expect(() => cache.appendFromPresent(0, skipped, 0, 0)).toThrow(/expected 48/);
    expect(cache.highWaterSlots).toBe(0);
  });
});

describe("batched past", () => {
  it("mirrors every row's slots at [L, B, H, slot * blockSize + t, D], copying only changed slots", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 5 }),
        (appendCounts, extra) => {
          const caches = appendCounts.map((count, row) => {
            const cache = new SequenceKvCache(layout, 3);
            for (let block = 0; block < count; block++)
              cache.appendFromPresent(row * 100 + block, presentFor(row * 100 + block), 0, 0);
            return cache;
          });
          const past = new BatchPast(layout);
          past.sync(caches);
          // more appends after the first sync exercise the incremental path
          for (let i = 0; i < extra; i++) {
            const row = i % caches.length;
            const cache = caches[row] as SequenceKvCache;
            const block = row * 100 + (appendCounts[row] as number) + i;
            cache.appendFromPresent(block, presentFor(block), 0, 0);
          }
          const view = past.sync(caches);
          const { numLayers, numHeads, headDim, blockSize } = layout;
          caches.forEach((cache, row) => {
            for (let slot = 0; slot < view.numSlots; slot++) {
              const block = view.slotBlocks[row * view.numSlots + slot] as number;
              expect(block).toBe(slot < cache.highWaterSlots ? cache.slotBlocks[slot] : -1);
              if (block < 0) continue;
              for (let l = 0; l < numLayers; l++)
                for (let h = 0; h < numHeads; h++)
                  for (let t = 0; t < blockSize; t++) {
                    const at =
                      (((l * caches.length + row) * numHeads + h) * view.pastLength + slot * blockSize + t) * headDim;
                    expect(view.key[at + 2]).toBe(block * 10_000 + l * 1_000 + h * 100 + t * 10 + 2);
                    expect(view.value[at]).toBe(-(block * 10_000 + l * 1_000 + h * 100 + t * 10));
                  }
            }
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it("copies nothing when no cache changed, and one block when the window slides", () => {
    const cache = new SequenceKvCache(layout, 2);
    cache.appendFromPresent(0, presentFor(0), 0, 0);
    cache.appendFromPresent(1, presentFor(1), 0, 0);
    const past = new BatchPast(layout);
    expect(past.sync([cache]).bytesCopied).toBe(2 * blockBytes(layout));
    expect(past.sync([cache]).bytesCopied).toBe(0);
    cache.appendFromPresent(2, presentFor(2), 0, 0);
    const view = past.sync([cache]);
    expect(view.bytesCopied).toBe(blockBytes(layout));
    expect(Array.from(view.slotBlocks)).toEqual([2, 1]);
  });

  it("keeps its version while nothing changes and takes a new one for every change", () => {
    const first = new SequenceKvCache(layout, 3);
    const second = new SequenceKvCache(layout, 3);
    first.appendFromPresent(0, presentFor(0), 0, 0);
    second.appendFromPresent(0, presentFor(5), 0, 0);
    const past = new BatchPast(layout);
    const other = new BatchPast(layout);
    const seen = new Set<number>();
    const expectNew = (version: number) => {
      expect(seen.has(version)).toBe(false);
      seen.add(version);
      return version;
    };
    let version = expectNew(past.sync([first]).version);
    expect(past.sync([first]).version).toBe(version); // nothing changed
    expectNew(other.sync([first]).version); // another buffer never shares a version
    first.appendFromPresent(1, presentFor(1), 0, 0); // P grows
    version = expectNew(past.sync([first]).version);
    expect(past.sync([first]).version).toBe(version);
    version = expectNew(past.sync([first, second]).version); // a row joined
    second.appendFromPresent(1, presentFor(6), 0, 0); // a slot below P changed
    version = expectNew(past.sync([first, second]).version);
    expect(past.sync([first, second]).version).toBe(version);
    past.clear();
    expectNew(past.sync([first, second]).version);
  });

  it("describes a change of rewritten slots only as a patch on the version before it", () => {
    const first = new SequenceKvCache(layout, 2);
    const second = new SequenceKvCache(layout, 2);
    for (const cache of [first, second]) {
      cache.appendFromPresent(0, presentFor(0), 0, 0);
      cache.appendFromPresent(1, presentFor(1), 0, 0);
    }
    const past = new BatchPast(layout);
    const start = past.sync([first, second]);
    expect(start.patch).toBeNull(); // rows changed (from none)
    expect(past.sync([first, second]).patch).toBeNull(); // nothing changed
    second.appendFromPresent(2, presentFor(2), 0, 0); // the window slides: slot 0 of row 1 rewritten, P kept
    const slid = past.sync([first, second]);
    expect(slid.patch).toEqual({
      baseVersion: start.version,
      basePastLength: 2 * layout.blockSize,
      slots: [[1, 0]],
      tokensPerSlot: layout.blockSize,
    });
    expect(slid.version).not.toBe(start.version);
    expect(past.sync([second]).patch).toBeNull(); // a row left
  });

  it("describes a window that grew by a block as a patch that adds that slot to the smaller version", () => {
    const grown = new SequenceKvCache(layout, 3);
    const short = new SequenceKvCache(layout, 3);
    grown.appendFromPresent(0, presentFor(0), 0, 0);
    short.appendFromPresent(0, presentFor(5), 0, 0);
    const past = new BatchPast(layout);
    const before = past.sync([grown, short]);
    const baseKey = Array.from(before.key); // the view is reused: copy the base version now
    grown.appendFromPresent(1, presentFor(1), 0, 0); // P grows to 2 slots; the short row's slot 1 is padding
    const after = past.sync([grown, short]);
    expect(after.patch).toEqual({
      baseVersion: before.version,
      basePastLength: layout.blockSize,
      slots: [[0, 1]],
      tokensPerSlot: layout.blockSize,
    });
    expect(Array.from(after.slotBlocks)).toEqual([0, 1, 0, -1]);
    // Base columns kept in place, the new slot where the patch says: the device copy can be rebuilt from them.
    const { numLayers, numHeads, headDim, blockSize } = layout;
    const run = (buffer: ArrayLike<number>, pastLength: number, layer: number, row: number, head: number) => {
      const start = ((layer * 2 + row) * numHeads + head) * pastLength * headDim;
      return Array.from({ length: pastLength * headDim }, (_, i) => buffer[start + i] as number);
    };
    for (let layer = 0; layer < numLayers; layer++) {
      for (let row = 0; row < 2; row++) {
        for (let head = 0; head < numHeads; head++) {
          const old = run(baseKey, blockSize, layer, row, head);
          const now = run(after.key, 2 * blockSize, layer, row, head);
          expect(now.slice(0, blockSize * headDim)).toEqual(old);
          if (row === 0)
            expect(now.slice(blockSize * headDim)).toEqual(
              Array.from(
                grown.key.subarray(
                  grown.offsetOf(layer, head, 1),
                  grown.offsetOf(layer, head, 1) + blockSize * headDim,
                ),
              ),
            );
        }
      }
    }
  });
});

describe("KV budget", () => {
  it("returns no reservation when the bytes do not fit, and frees on release", () => {
    const budget = new KvBudget(100);
    const first = budget.reserve(60);
    expect(first).not.toBeNull();
    expect(budget.reserve(50)).toBeNull();
    budget.release(first as NonNullable<typeof first>);
    expect(budget.reserve(50)).not.toBeNull();
    expect(budget.canEverFit(101)).toBe(false);
  });
});
