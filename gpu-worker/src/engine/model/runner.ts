/**
 * The seam between the engine and a denoiser graph: one batched forward, plain typed arrays in and out.
 * The ORT implementation lives in ort-runner.ts; tests substitute a small TypeScript model.
 */
import type { PastPatch } from "../kv/batch-past.ts";
import type { KvArray, KvDtype } from "../kv/layout.ts";
import type { ExecutionProviderName } from "../types.ts";

export interface ForwardInputs {
  batchSize: number;
  stepLength: number;
  pastLength: number;
  /** [B, Q] */
  inputIds: BigInt64Array;
  /** [B, Q] */
  positionIds: BigInt64Array;
  /** [L, B, H, P, D] */
  pastKey: KvArray;
  pastValue: KvArray;
  /** [B, Q, P + Q], 1 = may attend */
  attentionMask: Uint8Array;
  /**
   * Identifies the contents of pastKey / pastValue (kv/batch-past.ts): the same version means the same
   * tensors, so a runner that keeps the past on its device uploads each version once. Absent: upload.
   */
  pastVersion?: number;
  /** How this version differs from the previous one of the same buffer, when only by rewritten slots. */
  pastPatch?: PastPatch | null;
  /**
   * No row reads this forward's present keys/values (no clean segment: nothing is committed), so the runner
   * need not fetch them: ForwardOutputs then has empty presentKey / presentValue. On a GPU that is a download
   * saved per denoising step (the present of every step row).
   */
  skipPresent?: boolean;
  /**
   * [M] flat indices (row * Q + step position) of the positions to compute logits for (batch/logit-index.ts);
   * only for a runner whose graph takes `logit_index`, which then requires it. Absent: logits for all B x Q.
   */
  logitIndex?: BigInt64Array;
}

export interface ForwardOutputs {
  /** [M, V] for the fed `logitIndex`, else [B, Q, V] */
  logits: Float32Array;
  /** [M, 2] or [B, Q, 2]: per logits row, [max, log-sum-exp] with [MASK] excluded; when the graph returns it. */
  logitStats?: Float32Array;
  /** [L, B, H, Q, D]; empty when the forward asked to skip them (ForwardInputs.skipPresent). */
  presentKey: KvArray;
  presentValue: KvArray;
  /** The past was already on the device (fed without an upload): see ForwardInputs.pastVersion. */
  pastReused?: boolean;
  /** The past was patched on the device from the previous version (only its rewritten slots uploaded). */
  pastPatched?: boolean;
  /** Bytes handed to and returned from the graph in this forward (a past already on the device is not counted). */
  bytesIn: number;
  bytesOut: number;
}

export interface DenoiserRunner {
  readonly executionProvider: ExecutionProviderName;
  readonly kvDtype: KvDtype;
  /** The graph takes `logit_index` (and requires it in every forward); absent or false: it returns all Q. */
  readonly takesLogitIndex?: boolean;
  run(inputs: ForwardInputs): Promise<ForwardOutputs>;
  close(): Promise<void>;
}
