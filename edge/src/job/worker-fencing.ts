import { isTerminalJobStatus, LEASE_TERM_SECONDS, type WorkerCallErrorCode } from "@bd3-serve/shared";
import type { BlockLog } from "./block-log.ts";
import type { JobRecord } from "./job-record.ts";
import type { Refusal } from "./job-rpc.ts";
import type { JobContext, JobTasks } from "./job-seams.ts";
import { TASK } from "./tasks.ts";

/**
 * What every lease-holding call checks and renews, shared by the worker calls (worker-calls.ts) and the
 * block appends (block-appends.ts), which import this and never each other: the refusals, the epoch fence,
 * and the lease term that any accepted call renews.
 */

export const LEASE_TERM_MS = LEASE_TERM_SECONDS * 1_000;

export function refuse(code: WorkerCallErrorCode, message: string): Refusal {
  return { ok: false, status: 409, code, message };
}

export const NOT_FOUND: Refusal = { ok: false, status: 404, message: "no such job" };

/** Shared fencing of lease-holding calls; null when the call may proceed. */
export function fence(job: JobRecord | null, epoch: number | undefined): Refusal | null {
  if (job === null) return NOT_FOUND;
  if (isTerminalJobStatus(job.status)) return refuse("job_terminal", `the job is already ${job.status}`);
  if (job.epoch === 0 || job.status !== "running") return refuse("not_leased", "take a lease first");
  if (epoch !== job.epoch) return refuse("stale_epoch", `epoch ${epoch} is not the current epoch ${job.epoch}`);
  return null;
}

/**
 * Marks the worker alive: records the heartbeat and clears `is_stalled`. The stall check is scheduled only
 * when none is (it fires at the earliest `stallTimeout` after now, reads `lastHeartbeatAt` and re-schedules
 * itself from there), so the many calls of a busy block stream do not re-arm the object's alarm each time.
 */
export function touch(parts: JobContext & JobTasks, now: number): Partial<JobRecord> {
  if (parts.schedule.dueAt(TASK.stall) === null) parts.schedule.set(TASK.stall, now + parts.config.stallTimeoutMs);
  return { lastHeartbeatAt: now, isStalled: false, leaseExpiresAt: now + LEASE_TERM_MS };
}

/** Until when the current lease is live (0: no live lease). Objects from before the term: last call + term. */
export function leaseLiveUntil(job: JobRecord): number {
  if (job.status !== "running" || job.epoch === 0) return 0;
  return job.leaseExpiresAt ?? (job.lastHeartbeatAt !== null ? job.lastHeartbeatAt + LEASE_TERM_MS : 0);
}

/** The finish_reason appended with the last committed block (null: none, or no block yet). */
export function lastFinishReason(parts: { readonly blocks: Pick<BlockLog, "entry"> }, numBlocks: number) {
  return numBlocks > 0 ? (parts.blocks.entry(numBlocks - 1)?.finishReason ?? null) : null;
}
