/**
 * Schedule -> prepare -> run model -> **update**: everything a forward's output changes, in one pass over its
 * rows. Clean segments cache their keys/values and leave the clean queue; denoise segments choose their reveals
 * from the logits; all the forward's reveals are drawn at once (`drawTokens`: on the sampler pool's threads
 * too, when it has any); then, in row order, the tokens are written and finished blocks are closed into
 * BlockOutputs. Plain data in (the prepared forward, the model output), BlockOutputs out.
 */
import { applyReveals, chooseReveals, closeBlock, type DenoisePlan, type PositionDraw } from "../scheduler/blocks.ts";
import type { EngineContext } from "../scheduler/context.ts";
import type { Sequence } from "../scheduler/sequence.ts";
import type { BlockOutput } from "../types.ts";
import type { PreparedForward } from "./prepare-forward.ts";
import type { ModelOutput } from "./run-model.ts";

/** Draws the tokens of a list of reveals, in order. */
export type DrawTokens = (draws: readonly PositionDraw[]) => Int32Array;

interface RowStep {
  sequence: Sequence;
  plan: DenoisePlan | null;
  draws: PositionDraw[];
}

export function updateFromOutput(
  prepared: PreparedForward,
  output: ModelOutput,
  context: EngineContext,
  drawTokens: DrawTokens,
): BlockOutput[] {
  const { blockSize } = context;
  const { plan, step, logits, denoisePlans } = prepared;
  const present = {
    key: output.presentKey,
    value: output.presentValue,
    batchSize: step.batchSize,
    stepLength: step.stepLength,
  };
  const { stats } = output;
  const steps: RowStep[] = [];
  plan.rows.forEach((row, r) => {
    const sequence = plan.sequences[r] as Sequence;
    // Aborted while the forward ran (run() yields before it starts): its slot is gone, emit nothing.
    if (sequence.status !== "running") return;
    sequence.forwards++;
    row.segments.forEach((segment, s) => {
      const tokenOffset = s * blockSize;
      if (segment.kind === "clean") {
        sequence.kv?.appendFromPresent(segment.blockIndex, present, r, tokenOffset);
        sequence.cleanQueue.shift();
        return;
      }
      const denoisePlan = denoisePlans[r] ?? null;
      const draws = chooseReveals(
        sequence,
        denoisePlan,
        {
          logits: output.logits,
          offset: (position) => logits.offset(r, tokenOffset + position),
          stats: stats
            ? (position) => {
                const at = logits.row(r, tokenOffset + position) * 2;
                return { maxLogit: stats[at] as number, logSumExp: stats[at + 1] as number };
              }
            : null,
        },
        context,
      );
      steps.push({ sequence, plan: denoisePlan, draws });
    });
  });
  const tokens = drawTokens(steps.flatMap((rowStep) => rowStep.draws));
  const outputs: BlockOutput[] = [];
  let drawn = 0;
  for (const { sequence, plan: denoisePlan, draws } of steps) {
    const isBlockDone = applyReveals(sequence, denoisePlan, draws, tokens.subarray(drawn, drawn + draws.length));
    drawn += draws.length;
    if (isBlockDone) outputs.push(closeBlock(sequence, context));
  }
  return outputs;
}
