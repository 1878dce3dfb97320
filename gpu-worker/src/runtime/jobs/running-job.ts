/**
 * State of one job this worker holds: its message, its lease and where its block stream stands. Plain data;
 * the transitions live in `job-runner.ts`.
 *
 * Phases: leasing -> generating -> finishing (last block out of the engine) -> closed, with
 * generating -> draining (SIGTERM: append the block in flight, then release) and
 * generating -> handing_over (12 h visibility cap: re-enqueue a continuation), and any -> canceling (the edge
 * reported a cancel: stop, confirm with finish(canceled)).
 */
import type { JobMessage } from "@bd3-serve/shared";
import type { RequestUsage } from "../../engine/index.ts";
import type { BlockStreamWriter } from "../edge/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { QueueMessage } from "../queue/job-queue.ts";

export type JobPhase = "leasing" | "generating" | "draining" | "handing_over" | "finishing" | "canceling" | "closed";

export class RunningJob {
  phase: JobPhase = "leasing";
  /** Lease epoch from the edge; undefined until the lease returns. */
  epoch: number | undefined;
  /** True while the engine holds the request (abortRequest frees it). */
  isInEngine = false;
  /** addRequest said `admitted` (not `waiting`) or a block came out: the job is in the running batch. */
  hasStarted = false;
  /** Index of the next block the engine will emit. */
  nextBlockIndex = 0;
  /**
   * Token ids of every block committed or sent, earlier attempts included, in order: finish reports their
   * count as completion_tokens, and a paused job re-enters the engine from them.
   */
  committedTokenIds: number[] = [];
  blocksThisAttempt = 0;
  lastUsage: RequestUsage | undefined;
  /** Forwards of this attempt's engine requests that ended before the current one (a paused job). */
  priorForwards = 0;
  /** The lease's block stream to the edge (batched, pipelined); opened after the lease. */
  writer: BlockStreamWriter | undefined;
  /** Out of the engine until its block stream catches up (see block-sink.ts). */
  isPaused = false;
  stopHeartbeat: () => void = () => {};
  readonly closed: Promise<void>;
  markClosed: () => void = () => {};

  constructor(
    readonly job: JobMessage,
    public message: QueueMessage,
    readonly log: Logger,
  ) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  get id(): string {
    return this.job.job_id;
  }

  get completionTokens(): number {
    return this.committedTokenIds.length;
  }

  get isClosed(): boolean {
    return this.phase === "closed";
  }

  /** Appends and finish may still go out (not closed, not being canceled). */
  get isWriting(): boolean {
    return this.phase !== "closed" && this.phase !== "canceling";
  }
}
