import { isTerminalJobStatus, type JobStatus } from "@bd3-serve/shared";

/**
 * The job lifecycle as data. Every status change goes through `nextStatus`; terminal statuses
 * (succeeded, failed, canceled, expired) have no way out, so a late worker call or a duplicate cancel can
 * never move a finished job.
 *
 *   queued --lease--> running --finish--> succeeded
 *   queued|running --fail--> failed        running --finish_canceled | cancel_timeout--> canceled
 *   queued|running --requeue--> queued     queued --cancel--> canceled
 *   queued|running --expire--> expired     (a running job's cancel is a request: the worker stops first)
 */
export type JobTransition =
  | "lease"
  | "finish"
  | "finish_canceled"
  | "fail"
  | "requeue"
  | "cancel"
  | "cancel_timeout"
  | "expire";

const TRANSITIONS: Record<JobTransition, Partial<Record<JobStatus, JobStatus>>> = {
  lease: { queued: "running", running: "running" },
  finish: { running: "succeeded" },
  finish_canceled: { running: "canceled" },
  fail: { queued: "failed", running: "failed" },
  requeue: { queued: "queued", running: "queued" },
  cancel: { queued: "canceled" },
  cancel_timeout: { running: "canceled" },
  expire: { queued: "expired", running: "expired" },
};

/** The status after `transition`, or null when the transition is not allowed from `status`. */
export function nextStatus(status: JobStatus, transition: JobTransition): JobStatus | null {
  if (isTerminalJobStatus(status)) return null;
  return TRANSITIONS[transition][status] ?? null;
}
