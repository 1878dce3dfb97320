/**
 * Which step positions of a forward get logits, and where each one's logits are in the graph's output.
 * - A graph without `logit_index` returns logits for every step position: [B, Q, V].
 * - A graph with it (docs/model-package.md) returns [B, N, V] for the N positions fed per row; every row has the
 *   same N, so a row that needs fewer repeats its last index, and a row that needs none (clean blocks only)
 *   asks for position 0. The extra rows of logits are never read.
 * The executor reads logits only through `offset`, so samplers never see which layout the graph used.
 */

export interface LogitLayout {
  /** Logits per row in the graph's output (N, or Q when the graph returns every position). */
  readonly perRow: number;
  /** int64 [B, N] for the graph's `logit_index` input; null when it is not fed. */
  readonly logitIndex: BigInt64Array | null;
  /** Offset in floats of the logits of step position `stepPosition` of row `row`. */
  offset(row: number, stepPosition: number): number;
}

/** Every step position, in order: the output of a graph without `logit_index`. */
export function allPositionsLayout(batchSize: number, stepLength: number, vocabSize: number): LogitLayout {
  return {
    perRow: stepLength,
    logitIndex: null,
    offset(row, stepPosition) {
      if (row < 0 || row >= batchSize || stepPosition < 0 || stepPosition >= stepLength) {
        throw new RangeError(`no logits for row ${row} position ${stepPosition}`);
      }
      return (row * stepLength + stepPosition) * vocabSize;
    },
  };
}

/**
 * `needed[r]`: the step positions row r reads logits of (any order, no duplicates needed). Builds the
 * `logit_index` feed and the map back from a position to its logits.
 */
export function gatheredLayout(needed: readonly (readonly number[])[], vocabSize: number): LogitLayout {
  const batchSize = needed.length;
  const perRow = Math.max(1, ...needed.map((positions) => positions.length));
  const logitIndex = new BigInt64Array(batchSize * perRow);
  const slots = needed.map((positions, r) => {
    const slotOf = new Map<number, number>();
    for (let n = 0; n < perRow; n++) {
      const position = positions[Math.min(n, positions.length - 1)] ?? 0;
      logitIndex[r * perRow + n] = BigInt(position);
      if (!slotOf.has(position)) slotOf.set(position, n);
    }
    return slotOf;
  });
  return {
    perRow,
    logitIndex,
    offset(row, stepPosition) {
      const slot = slots[row]?.get(stepPosition);
      if (slot === undefined || !needed[row]?.includes(stepPosition)) {
        throw new RangeError(`logits of row ${row} position ${stepPosition} were not asked for`);
      }
      return (row * perRow + slot) * vocabSize;
    },
  };
}
