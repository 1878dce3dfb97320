/**
 * Schedule -> **prepare** -> run model -> update: turns a ForwardPlan (which rows, which segments) into the
 * graph's inputs, as plain data. It syncs the batched past from the rows' caches, builds tokens, positions and
 * the mask, and plans every denoising row's step before the forward (the choices that do not depend on the
 * logits), so the graph computes only the logits the update will read.
 */
import { buildAttentionMask } from "../batch/attention-mask.ts";
import { allPositionsLayout, gatheredLayout, type LogitLayout } from "../batch/logit-index.ts";
import type { RowPlan } from "../batch/row-plan.ts";
import { buildStepInputs, type StepInputs } from "../batch/step-inputs.ts";
import type { BatchPast, BatchPastView } from "../kv/batch-past.ts";
import type { SequenceKvCache } from "../kv/sequence-cache.ts";
import type { ForwardInputs } from "../model/runner.ts";
import { type DenoisePlan, planDenoiseStep } from "../scheduler/blocks.ts";
import type { EngineContext } from "../scheduler/context.ts";
import type { ForwardPlan } from "../scheduler/schedule.ts";
import type { Sequence } from "../scheduler/sequence.ts";

/** Everything one forward needs and everything its update reads of how it was built. */
export interface PreparedForward {
  plan: ForwardPlan;
  past: BatchPastView;
  step: StepInputs;
  /** Per row: its denoising step's plan (null for a row with no denoise segment: prefill or clean only). */
  denoisePlans: (DenoisePlan | null)[];
  logits: LogitLayout;
  /** The graph's inputs. */
  inputs: ForwardInputs;
}

export interface PrepareOptions {
  context: EngineContext;
  /** The batched past of this forward's kind. */
  batchPast: BatchPast;
  /** The graph takes `logit_index` (only the positions read are computed). */
  takesLogitIndex: boolean;
  logitPositions: "needed" | "all";
}

export function prepareForward(plan: ForwardPlan, options: PrepareOptions): PreparedForward {
  const { context } = options;
  const { blockSize, maskTokenId, windowBlocks } = context;
  const caches = plan.sequences.map((sequence) => sequence.kv as SequenceKvCache);
  const past = options.batchPast.sync(caches);
  const step = buildStepInputs(plan.rows, blockSize, maskTokenId);
  const denoisePlans = plan.rows.map((row, r) =>
    row.segments.some((segment) => segment.kind === "denoise")
      ? planDenoiseStep(plan.sequences[r] as Sequence, context)
      : null,
  );
  const logits = logitLayout(plan.rows, denoisePlans, step.stepLength, options);
  const attentionMask = buildAttentionMask({
    batchSize: step.batchSize,
    stepLength: step.stepLength,
    numSlots: past.numSlots,
    blockSize,
    windowBlocks,
    slotBlocks: past.slotBlocks,
    stepBlocks: step.stepBlocks,
  });
  const inputs: ForwardInputs = {
    batchSize: step.batchSize,
    stepLength: step.stepLength,
    pastLength: past.pastLength,
    inputIds: step.inputIds,
    positionIds: step.positionIds,
    pastKey: past.key,
    pastValue: past.value,
    pastVersion: past.version,
    pastPatch: past.patch,
    skipPresent: !plan.rows.some((row) => row.segments.some((segment) => segment.kind === "clean")),
    attentionMask,
    ...(logits.logitIndex ? { logitIndex: logits.logitIndex } : {}),
  };
  return { plan, past, step, denoisePlans, logits, inputs };
}

/** Where each row's logits are: every step position, or only those the rows' denoising steps read. */
function logitLayout(
  rows: readonly RowPlan[],
  plans: readonly (DenoisePlan | null)[],
  stepLength: number,
  options: PrepareOptions,
): LogitLayout {
  const { blockSize, vocabSize } = options.context;
  if (!options.takesLogitIndex) return allPositionsLayout(rows.length, stepLength, vocabSize);
  const needed = rows.map((row, r) => {
    if (options.logitPositions === "all") return Array.from({ length: stepLength }, (_, position) => position);
    const offset = row.segments.findIndex((segment) => segment.kind === "denoise") * blockSize;
    return (plans[r]?.logitPositions ?? []).map((position) => offset + position);
  });
  return gatheredLayout(needed, stepLength, vocabSize);
}
