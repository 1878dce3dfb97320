/**
 * Which step positions of a forward get logits, and where each one's logits are in the graph's output.
 * - A graph without `logit_index` returns logits for every step position: [B, Q, V].
 * - A graph with it (docs/model-package.md) takes flat indices [M] (row * Q + step position) and returns [M, V]:
 *   exactly the positions the rows read, none padded (rows of a batch need different numbers: a ddpm reveal
 *   group, every masked position for confidence, none for a clean-only row). The graph needs M >= 1, so a
 *   forward in which no row reads logits asks for position 0 of row 0, which is never read.
 * The executor reads logits only through `row`/`offset`, so samplers never see which layout the graph used; the
 * graph's `logit_stats` ([..., 2] per logits row) follow the same row numbering.
 */

export interface LogitLayout {
  /** Logits rows in the graph's output (M, or B x Q when the graph returns every position). */
  readonly numRows: number;
  /** int64 [M] for the graph's `logit_index` input; null when it is not fed. */
  readonly logitIndex: BigInt64Array | null;
  /** Logits row (in the graph's output) of step position `stepPosition` of batch row `row`. */
  row(row: number, stepPosition: number): number;
  /** Offset in floats of the logits of step position `stepPosition` of row `row`. */
  offset(row: number, stepPosition: number): number;
}

/** Every step position, in order: the output of a graph without `logit_index`. */
export function allPositionsLayout(batchSize: number, stepLength: number, vocabSize: number): LogitLayout {
  const rowOf = (row: number, stepPosition: number) => {
    if (row < 0 || row >= batchSize || stepPosition < 0 || stepPosition >= stepLength) {
      throw new RangeError(`no logits for row ${row} position ${stepPosition}`);
    }
    return row * stepLength + stepPosition;
  };
  return {
    numRows: batchSize * stepLength,
    logitIndex: null,
    row: rowOf,
    offset: (row, stepPosition) => rowOf(row, stepPosition) * vocabSize,
  };
}

/**
 * `needed[r]`: the step positions batch row r reads logits of (any order; duplicates asked once). Builds the
 * flat `logit_index` feed for a step of `stepLength` positions and the map back from a position to its row.
 */
export function gatheredLayout(
  needed: readonly (readonly number[])[],
  stepLength: number,
  vocabSize: number,
): LogitLayout {
  const flat: number[] = [];
  const slots = needed.map((positions, r) => {
    const slotOf = new Map<number, number>();
    for (const position of positions) {
      if (position < 0 || position >= stepLength) {
        throw new RangeError(`row ${r} asks for step position ${position} of a ${stepLength}-position step`);
      }
      if (slotOf.has(position)) continue;
      slotOf.set(position, flat.length);
      flat.push(r * stepLength + position);
    }
    return slotOf;
  });
  if (flat.length === 0) flat.push(0);
  const rowOf = (row: number, stepPosition: number) => {
    const slot = slots[row]?.get(stepPosition);
    if (slot === undefined) throw new RangeError(`logits of row ${row} position ${stepPosition} were not asked for`);
    return slot;
  };
  return {
    numRows: flat.length,
    logitIndex: BigInt64Array.from(flat, BigInt),
    row: rowOf,
    offset: (row, stepPosition) => rowOf(row, stepPosition) * vocabSize,
  };
}
