/**
 * Chooses the next forward: plain data (which sequences, which blocks) for the executor.
 * - If any running sequence has more than one clean block to cache (a prompt, or a resume), the forward is a
 *   prefill: those sequences only, each with a chunk of up to `prefillChunkBlocks` clean blocks, plus its
 *   first denoising block when the chunk empties its queue.
 * - Otherwise (or right after a prefill forward, when others are decoding: a long prompt then costs the
 *   running sequences every other forward, not all of them) every sequence that is decoding takes part with
 *   its current block, and a sequence that just finished a block commits it:
 *   - folded into this step as [clean block ; current block] when at least half the rows commit now (always
 *     at batch 1, and when the batch moves in step): the other rows are padded to 2L';
 *   - otherwise as a commit-only row (the clean block alone, its next block starts one forward later), so a
 *     batch whose sequences are out of phase is not padded to 2L' at nearly every forward.
 *   The forward's cost grows with batch x step length; the rule picks whichever makes more progress per token
 *   of compute (folding k of B rows doubles everyone's length; a commit-only row costs one row one step).
 */
import type { RowPlan, RowSegment } from "../batch/row-plan.ts";
import type { Sequence } from "./sequence.ts";

export interface ForwardPlan {
  kind: "prefill" | "decode";
  sequences: Sequence[];
  rows: RowPlan[];
}

function rowFor(sequence: Sequence, maxCleanBlocks: number, withDenoise = true): RowPlan {
  const clean = sequence.cleanQueue.slice(0, maxCleanBlocks);
  const segments: RowSegment[] = clean.map((block) => ({
    blockIndex: block.blockIndex,
    tokens: block.tokens,
    kind: "clean",
  }));
  if (withDenoise && clean.length === sequence.cleanQueue.length && sequence.block) {
    segments.push({ blockIndex: sequence.block.blockIndex, tokens: sequence.block.tokens, kind: "denoise" });
  }
  return { requestId: sequence.requestId, segments };
}

export function scheduleForward(
  running: readonly Sequence[],
  prefillChunkBlocks: number,
  previousKind: ForwardPlan["kind"] | null = null,
): ForwardPlan | null {
  const active = running.filter((sequence) => sequence.status === "running");
  const prefilling = active.filter((sequence) => sequence.cleanQueue.length > 1);
  const decoding = active.filter(
    (sequence) => sequence.cleanQueue.length <= 1 && (sequence.block !== null || sequence.cleanQueue.length > 0),
  );
  if (prefilling.length > 0 && (previousKind !== "prefill" || decoding.length === 0)) {
    return {
      kind: "prefill",
      sequences: prefilling,
      rows: prefilling.map((sequence) => rowFor(sequence, prefillChunkBlocks)),
    };
  }
  if (decoding.length === 0) return null;
  const committing = decoding.filter((sequence) => sequence.cleanQueue.length === 1).length;
  const fold = 2 * committing >= decoding.length;
  return {
    kind: "decode",
    sequences: decoding,
    rows: decoding.map((sequence) => rowFor(sequence, 1, fold || sequence.cleanQueue.length === 0)),
  };
}
