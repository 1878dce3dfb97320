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
  /** Tokens of all committed blocks, earlier attempts included (finish reports it as completion_tokens). */
  completionTokens = 0;
  blocksThisAttempt = 0;
  lastUsage: RequestUsage | undefined;
  /** Appends run one after another, in block order. */
  appendTail: Promise<void> = Promise.resolve();
  /** Blocks out of the engine whose append has not finished yet. */
  pendingAppends = 0;
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

  get isClosed(): boolean {
    return this.phase === "closed";
  }

  /** Appends and finish may still go out (not closed, not being canceled). */
  get isWriting(): boolean {
    return this.phase !== "closed" && this.phase !== "canceling";
  }
}
