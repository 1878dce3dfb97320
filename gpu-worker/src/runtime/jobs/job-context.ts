/**
 * What the pieces of the job runner share: its options, and the two transitions only the runner performs
 * (`close`, which lets go of a job and its message, and `abortInEngine`).
 */
import type { Engine } from "../../engine/index.ts";
import type { EdgeClient } from "../edge/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { JobOutcome, WorkerMetrics } from "../observability/metrics.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import type { RunningJob } from "./running-job.ts";

/**
 * What happens to a job's message when the runner lets go of it:
 * - delete: a terminal outcome the edge knows (succeeded, canceled, failed for good, job already terminal);
 * - release (visibility 0): SIGTERM drain or the handover fallback; another worker resumes at once;
 * - retry (visibility = backoff): a transient error before the last receive; the edge keeps the job queued;
 * - keep: the lease was lost (another worker holds the job) or the edge could not be told at the last receive
 *   (the message then goes to the DLQ, where the DLQ watcher fails it on the edge);
 * - defer (visibility = `deferSeconds`): the edge refused the lease as `lease_held` (another worker's lease is
 *   live); the message comes back when that lease would have lapsed, and is never deleted here. Also the
 *   fallback of a `tenant_running_limit` re-queue whose send failed (tenant-limit.ts).
 */
export type MessageAction = "delete" | "release" | "retry" | "keep" | { deferSeconds: number };

export interface JobRunnerOptions {
  engine: Engine;
  edge: EdgeClient;
  queue: JobQueue;
  metrics: WorkerMetrics;
  logger: Logger;
  workerId: string;
  /** Jobs must ask for this model; others are failed (one queue per model). */
  modelName: string;
  maxBatchSize: number;
  visibilityTimeoutSeconds: number;
  heartbeatIntervalMs: number;
  /** Receives after which SQS dead-letters the message; undefined: no DLQ, never the last attempt. */
  maxReceiveCount: number | undefined;
  continuationMarginSeconds: number;
  /** Called when the engine has new work (the engine loop wakes up). */
  onWork: () => void;
  /** Called after the number of jobs held changed (a job taken or let go), with the new count. */
  onHeldJobs?: (heldJobs: number) => void;
  now?: () => number;
}

export interface JobControl {
  /** Lets go of the job: stops its heartbeat, aborts it in the engine, applies `action` to its message. */
  close(job: RunningJob, outcome: JobOutcome, action: MessageAction): Promise<void>;
  abortInEngine(job: RunningJob): void;
}
