/**
 * Chooses the next forward: plain data (which sequences, which blocks) for the executor.
 * - If any running sequence has more than one clean block to cache (a prompt, or a resume), the forward is a
 *   prefill: those sequences only, each with a chunk of up to `prefillChunkBlocks` clean blocks, plus its
 *   first denoising block when the chunk empties its queue.
 * - Otherwise (or right after a prefill forward, when others are decoding: a long prompt then costs the
 *   running sequences every other forward, not all of them) every sequence that is decoding takes part: its
 *   pending clean block (the commit of the block it just finished, folded into this step as
 *   [clean block ; current block]) and its current block.
 * Rows may differ in length; the executor pads them to the longest.
 */
import type { RowPlan, RowSegment } from "../batch/row-plan.ts";
import type { Sequence } from "./sequence.ts";

export interface ForwardPlan {
  kind: "prefill" | "decode";
  sequences: Sequence[];
  rows: RowPlan[];
}

function rowFor(sequence: Sequence, maxCleanBlocks: number): RowPlan {
  const clean = sequence.cleanQueue.slice(0, maxCleanBlocks);
  const segments: RowSegment[] = clean.map((block) => ({
    blockIndex: block.blockIndex,
    tokens: block.tokens,
    kind: "clean",
  }));
  if (clean.length === sequence.cleanQueue.length && sequence.block) {
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
  return { kind: "decode", sequences: decoding, rows: decoding.map((sequence) => rowFor(sequence, 1)) };
}
