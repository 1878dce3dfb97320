/**
 * What one sequence contributes to a forward: clean blocks whose keys/values must be computed (prompt
 * prefill, or the previous block's commit folded into this step), then at most one block being denoised.
 * Plain data handed from the scheduler to the executor and back to the update.
 */

export interface RowSegment {
  /** Absolute block index in the sequence (position = blockIndex * blockSize + offset). */
  blockIndex: number;
  /** blockSize token ids ([MASK] where not yet revealed). */
  tokens: ArrayLike<number>;
  kind: "clean" | "denoise";
}

export interface RowPlan {
  requestId: string;
  segments: RowSegment[];
}

export function rowLength(row: RowPlan, blockSize: number): number {
  return row.segments.length * blockSize;
}
