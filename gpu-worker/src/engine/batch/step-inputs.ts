/**
 * Token and position tensors of a forward: every row is padded to the longest row (Q tokens). Padding tokens
 * are [MASK] at position 0 and get block -1, which the mask builder turns into "attends only itself".
 */
import { type RowPlan, rowLength } from "./row-plan.ts";

export interface StepInputs {
  batchSize: number;
  stepLength: number;
  inputIds: BigInt64Array;
  positionIds: BigInt64Array;
  /** Absolute block of each step token, -1 for padding: [B, Q]. */
  stepBlocks: Int32Array;
}

export function buildStepInputs(rows: readonly RowPlan[], blockSize: number, maskTokenId: number): StepInputs {
  const batchSize = rows.length;
  const stepLength = rows.reduce((most, row) => Math.max(most, rowLength(row, blockSize)), 0);
  const inputIds = new BigInt64Array(batchSize * stepLength).fill(BigInt(maskTokenId));
  const positionIds = new BigInt64Array(batchSize * stepLength);
  const stepBlocks = new Int32Array(batchSize * stepLength).fill(-1);
  rows.forEach((row, r) => {
    row.segments.forEach((segment, s) => {
      const base = r * stepLength + s * blockSize;
      for (let i = 0; i < blockSize; i++) {
        inputIds[base + i] = BigInt(segment.tokens[i] as number);
        positionIds[base + i] = BigInt(segment.blockIndex * blockSize + i);
        stepBlocks[base + i] = segment.blockIndex;
      }
    });
  });
  return { batchSize, stepLength, inputIds, positionIds, stepBlocks };
}
