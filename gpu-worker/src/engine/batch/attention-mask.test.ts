import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAttentionMask, type MaskInputs } from "./attention-mask.ts";
import type { RowPlan } from "./row-plan.ts";
import { buildStepInputs } from "./step-inputs.ts";

const blockSize = 2;

/** A random row: cached blocks (some slots empty), then clean blocks and maybe a block being denoised. */
const rowArbitrary = fc
  .record({
    firstStepBlock: fc.integer({ min: 0, max: 12 }),
    cleanBlocks: fc.integer({ min: 0, max: 3 }),
    denoise: fc.boolean(),
    cachedBlocks: fc.integer({ min: 0, max: 5 }),
    emptySlots: fc.integer({ min: 0, max: 2 }),
  })
  .filter((row) => row.cleanBlocks + (row.denoise ? 1 : 0) > 0);

type RowSpec = typeof rowArbitrary extends fc.Arbitrary<infer T> ? T : never;

function rowPlan(spec: RowSpec): RowPlan {
  const segments: RowPlan["segments"] = [];
  for (let i = 0; i < spec.cleanBlocks; i++)
    segments.push({ blockIndex: spec.firstStepBlock + i, tokens: [1, 2], kind: "clean" });
  if (spec.denoise)
    segments.push({ blockIndex: spec.firstStepBlock + spec.cleanBlocks, tokens: [9, 9], kind: "denoise" });
  return { requestId: "r", segments };
}

function slotsFor(spec: RowSpec): number[] {
  const cached = Array.from(
    { length: Math.min(spec.cachedBlocks, spec.firstStepBlock) },
    (_, i) => spec.firstStepBlock - 1 - i,
  );
  return [...cached.reverse(), ...Array(spec.emptySlots).fill(-1)];
}

function maskFor(specs: RowSpec[], windowBlocks: number) {
  const rows = specs.map(rowPlan);
  const step = buildStepInputs(rows, blockSize, 9);
  const slotLists = specs.map(slotsFor);
  const numSlots = Math.max(0, ...slotLists.map((slots) => slots.length));
  const slotBlocks = new Int32Array(specs.length * numSlots).fill(-1);
  slotLists.forEach((slots, r) => {
    slotBlocks.set(slots, r * numSlots);
  });
  const inputs: MaskInputs = {
    batchSize: specs.length,
    stepLength: step.stepLength,
    numSlots,
    blockSize,
    windowBlocks,
    slotBlocks,
    stepBlocks: step.stepBlocks,
  };
  return { mask: buildAttentionMask(inputs), inputs };
}

/** Key blocks a query attends: decoded from the mask, in column order. */
function attended(mask: Uint8Array, inputs: MaskInputs, row: number, q: number): number[] {
  const pastLength = inputs.numSlots * blockSize;
  const width = pastLength + inputs.stepLength;
  const blocks: number[] = [];
  for (let k = 0; k < width; k++) {
    if (!mask[(row * inputs.stepLength + q) * width + k]) continue;
    blocks.push(
      k < pastLength
        ? (inputs.slotBlocks[row * inputs.numSlots + Math.floor(k / blockSize)] as number)
        : (inputs.stepBlocks[row * inputs.stepLength + k - pastLength] as number),
    );
  }
  return blocks;
}

describe("attention mask", () => {
  it("never lets a position see a later block, padding, or a block outside its window", () => {
    fc.assert(
      fc.property(
        fc.array(rowArbitrary, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 6 }),
        (specs, windowBlocks) => {
          const { mask, inputs } = maskFor(specs, windowBlocks);
          specs.forEach((_, row) => {
            for (let q = 0; q < inputs.stepLength; q++) {
              const queryBlock = inputs.stepBlocks[row * inputs.stepLength + q] as number;
              const keys = attended(mask, inputs, row, q);
              if (queryBlock < 0) {
                expect(keys).toEqual([-1]);
                continue;
              }
              for (const keyBlock of keys) {
                expect(keyBlock).toBeGreaterThanOrEqual(0);
                expect(keyBlock).toBeLessThanOrEqual(queryBlock);
                expect(keyBlock).toBeGreaterThan(queryBlock - windowBlocks);
              }
              // its own block is always visible (bidirectional inside a block)
              expect(keys.filter((block) => block === queryBlock)).toHaveLength(blockSize);
            }
          });
        },
      ),
    );
  });

  it("gives each row of a ragged batch the same visible keys as that row alone", () => {
    fc.assert(
      fc.property(
        fc.array(rowArbitrary, { minLength: 2, maxLength: 4 }),
        fc.integer({ min: 1, max: 6 }),
        (specs, windowBlocks) => {
          const batch = maskFor(specs, windowBlocks);
          specs.forEach((spec, row) => {
            const alone = maskFor([spec], windowBlocks);
            const ownLength = rowPlan(spec).segments.length * blockSize;
            for (let q = 0; q < ownLength; q++) {
              expect(attended(batch.mask, batch.inputs, row, q)).toEqual(attended(alone.mask, alone.inputs, 0, q));
            }
          });
        },
      ),
    );
  });

  it("folds a commit: the clean block sees its window but not the masked block after it", () => {
    // window of 3 blocks; cache holds blocks 2, 3 (slots) and block 1 (oldest); step = [clean 4 ; denoise 5]
    const spec: RowSpec = { firstStepBlock: 4, cleanBlocks: 1, denoise: true, cachedBlocks: 3, emptySlots: 0 };
    const { mask, inputs } = maskFor([spec], 3);
    expect(attended(mask, inputs, 0, 0)).toEqual([2, 2, 3, 3, 4, 4]);
    expect(attended(mask, inputs, 0, 2)).toEqual([3, 3, 4, 4, 5, 5]);
  });
});
