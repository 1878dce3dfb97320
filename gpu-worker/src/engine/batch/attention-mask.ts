/**
 * The attention mask of a forward, [B, Q, P + Q] booleans (true = may attend), past columns first.
 * Rule for a query in block bq (window of W blocks = context / block size): it attends a key in block bk when
 * bq - W < bk <= bq. Within a block attention is bidirectional; across blocks it is block-causal; keys older
 * than the window are hidden (this is the sliding window); a query never sees a later block, so a clean block
 * never sees the masked block after it. Padding columns (empty slots, padded step tokens) are hidden from
 * every real query; a padding query attends only itself so its row stays finite.
 */

export interface MaskInputs {
  batchSize: number;
  stepLength: number;
  numSlots: number;
  blockSize: number;
  windowBlocks: number;
  /** [B, numSlots] absolute block per past slot, -1 = padding. */
  slotBlocks: Int32Array;
  /** [B, Q] absolute block per step token, -1 = padding. */
  stepBlocks: Int32Array;
}

export function canAttend(queryBlock: number, keyBlock: number, windowBlocks: number): boolean {
  return keyBlock >= 0 && keyBlock <= queryBlock && keyBlock > queryBlock - windowBlocks;
}

export function buildAttentionMask(inputs: MaskInputs): Uint8Array {
  const { batchSize, stepLength, numSlots, blockSize, windowBlocks, slotBlocks, stepBlocks } = inputs;
  const pastLength = numSlots * blockSize;
  const width = pastLength + stepLength;
  const mask = new Uint8Array(batchSize * stepLength * width);
  for (let row = 0; row < batchSize; row++) {
    for (let q = 0; q < stepLength; q++) {
      const queryBlock = stepBlocks[row * stepLength + q] as number;
      const base = (row * stepLength + q) * width;
      if (queryBlock < 0) {
        mask[base + pastLength + q] = 1;
        continue;
      }
      for (let slot = 0; slot < numSlots; slot++) {
        const keyBlock = slotBlocks[row * numSlots + slot] as number;
        if (canAttend(queryBlock, keyBlock, windowBlocks)) {
          mask.fill(1, base + slot * blockSize, base + (slot + 1) * blockSize);
        }
      }
      for (let k = 0; k < stepLength; k++) {
        if (canAttend(queryBlock, stepBlocks[row * stepLength + k] as number, windowBlocks))
          mask[base + pastLength + k] = 1;
      }
    }
  }
  return mask;
}
