import {
  type FailRequest,
  type FinishRequest,
  type HeartbeatReply,
  type HeartbeatRequest,
  isTerminalJobStatus,
  type JobStatusReply,
  LEASE_TERM_SECONDS,
  type LeaseReplyInput,
  type LeaseRequest,
  PROMPT_SPECIAL_TOKENS_MAX,
  type ReleaseRequest,
  type Usage,
  utf8ByteLength,
  type WorkerCallErrorCode,
} from "@bd3-serve/shared";
import { RETRYABLE_FAILURES_MAX } from "../config/constants.ts";
import { type JobCore, TASK } from "./job-core.ts";
import type { JobRecord } from "./job-store.ts";

/**
 * The worker protocol of docs/worker-api.md on one job. Order of checks, the same for every call: the job
 * exists (404), it is not terminal (409 job_terminal; finish and fail instead answer the final status, so
 * a retried finish is harmless), it has a lease (409 not_leased), and the caller holds the current epoch
 * (409 stale_epoch). Appends are idempotent by index: same index and content (finish_reason included) is
 * `duplicate`, other content `block_conflict`, an index past the end `block_gap`, a block after
 * one that carried a finish_reason `generation_ended`. Any accepted call counts as a heartbeat and renews the
 * lease for LEASE_TERM_SECONDS; a lease of a job whose lease is live, by another worker, is `lease_held`. A
 * first lease may also be `tenant_running_limit`, decided before `lease` runs (tenant/running-admission.ts).
 *
 * The edge is the authority on what a job did: its usage is computed here from the committed blocks (the
 * worker's `forwards` is kept as a statistic), and a finish after a cancel request ends the job canceled.
 */
export type Refusal = {
  ok: false;
  status: 400 | 404 | 409;
  code?: WorkerCallErrorCode;
  message: string;
  param?: string;
  /** Sent as `Retry-After`: when the refused call may succeed (a held lease's remaining term, a tenant's slot). */
  retryAfterSeconds?: number;
};

const LEASE_TERM_MS = LEASE_TERM_SECONDS * 1_000;
export type WorkerCallResult<T> = { ok: true; reply: T } | Refusal;

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
export function touch(core: JobCore, now: number): Partial<JobRecord> {
  if (core.schedule.dueAt(TASK.stall) === null) core.schedule.set(TASK.stall, now + core.config.stallTimeoutMs);
  return { lastHeartbeatAt: now, isStalled: false, leaseExpiresAt: now + LEASE_TERM_MS };
}

/** Until when the current lease is live (0: no live lease). Objects from before the term: last call + term. */
export function leaseLiveUntil(job: JobRecord): number {
  if (job.status !== "running" || job.epoch === 0) return 0;
  return job.leaseExpiresAt ?? (job.lastHeartbeatAt !== null ? job.lastHeartbeatAt + LEASE_TERM_MS : 0);
}

/**
 * The job's usage as the edge counts it: completion tokens are the committed blocks' tokens; prompt tokens are
 * the worker's count (the edge has no tokenizer) clamped to what the prompt's bytes allow; forwards are the
 * worker's statistic.
 */
export function edgeUsage(job: JobRecord, reported: Usage): Usage {
  const promptTokensMax = utf8ByteLength(job.prompt) + PROMPT_SPECIAL_TOKENS_MAX;
  return {
    prompt_tokens: Math.min(reported.prompt_tokens, promptTokensMax),
    completion_tokens: job.numTokens,
    forwards: reported.forwards,
  };
}

/** The finish_reason appended with the last committed block (null: none, or no block yet). */
export function lastFinishReason(core: JobCore, numBlocks: number) {
  return numBlocks > 0 ? (core.blocks.entry(numBlocks - 1)?.finishReason ?? null) : null;
}

/**
 * The lease reply. `final_finish_reason` is sent only when the last committed block ended the generation
 * (a worker died between that append and `finish`): left out when null, so workers older than the field,
 * whose reply schema is strict, still parse every other lease.
 */
export function lease(core: JobCore, request: LeaseRequest): WorkerCallResult<LeaseReplyInput> {
  const job = core.readJob();
  if (job === null) return NOT_FOUND;
  if (isTerminalJobStatus(job.status)) return refuse("job_terminal", `the job is already ${job.status}`);
  const now = core.now();
  const liveUntil = leaseLiveUntil(job);
  // The holder itself may lease again (a retried lease whose first reply was lost); anyone else waits out the
  // term, so two workers never write one job at once and a crashed holder's job is free within one term.
  if (liveUntil > now && request.worker_id !== job.workerId) {
    return {
      ...refuse("lease_held", `another worker holds this job's lease for up to ${LEASE_TERM_SECONDS} s more`),
      retryAfterSeconds: Math.max(1, Math.ceil((liveUntil - now) / 1_000)),
    };
  }
  const leased = core.transition(job, "lease", {
    epoch: job.epoch + 1,
    // A new lease starts a new producer session on the block stream (its epoch is the lease epoch).
    producerEpoch: null,
    producerLastSeq: null,
    workerId: request.worker_id,
    startedAt: job.startedAt ?? now,
    ...touch(core, now),
  });
  if (leased === null) return refuse("job_terminal", `the job is already ${job.status}`);
  // The first start arms the job's own run limit (timeout_seconds); a re-lease keeps the original clock.
  if (job.startedAt === null && job.timeoutMs !== null) core.schedule.set(TASK.timeout, now + job.timeoutMs);
  const finalFinishReason = lastFinishReason(core, leased.numBlocks);
  return {
    ok: true,
    reply: {
      epoch: leased.epoch,
      status: leased.status,
      committed_blocks: leased.numBlocks,
      committed_token_ids: core.blocks.committedTokenIds(),
      is_canceled: leased.cancelRequestedAt !== null,
      ...(finalFinishReason !== null ? { final_finish_reason: finalFinishReason } : {}),
    },
  };
}

export function heartbeat(core: JobCore, request: HeartbeatRequest): WorkerCallResult<HeartbeatReply> {
  const job = core.readJob();
  const refused = fence(job, request.epoch);
  if (refused || job === null) return refused ?? NOT_FOUND;
  core.store.update(touch(core, core.now()));
  return { ok: true, reply: { status: job.status, is_canceled: job.cancelRequestedAt !== null } };
}

export function finish(core: JobCore, request: FinishRequest): WorkerCallResult<JobStatusReply> {
  const job = core.readJob();
  if (job !== null && isTerminalJobStatus(job.status)) return { ok: true, reply: { status: job.status } };
  const refused = fence(job, request.epoch);
  if (refused || job === null) return refused ?? NOT_FOUND;
  // Cancel wins: once a cancel was requested, the job ends canceled whatever the worker reports.
  const canceled = request.finish_reason === "canceled" || job.cancelRequestedAt !== null;
  const done = core.transition(job, canceled ? "finish_canceled" : "finish", {
    finishReason: canceled ? "canceled" : request.finish_reason,
    usage: edgeUsage(job, request.usage),
    lastHeartbeatAt: core.now(),
    isStalled: false,
  });
  return { ok: true, reply: { status: done?.status ?? job.status } };
}

/**
 * A worker gives up. Without an epoch (the message did not even parse) only a never-leased job can be
 * failed, so a stale message cannot kill a job another worker holds. `is_retryable` puts the job back in
 * the queue state (SQS redelivers the message) up to RETRYABLE_FAILURES_MAX times; after a cancel request
 * any failure ends the job as canceled.
 */
export function fail(core: JobCore, request: FailRequest): WorkerCallResult<JobStatusReply> {
  const job = core.readJob();
  if (job === null) return NOT_FOUND;
  if (isTerminalJobStatus(job.status)) return { ok: true, reply: { status: job.status } };
  if (request.epoch === undefined ? job.epoch !== 0 : request.epoch !== job.epoch) {
    return refuse("stale_epoch", `epoch ${request.epoch ?? "none"} is not the current epoch ${job.epoch}`);
  }
  const error = { code: request.code, message: request.message };
  let next: JobRecord | null;
  if (job.cancelRequestedAt !== null) {
    next = core.transition(job, job.status === "running" ? "cancel_timeout" : "cancel", { finishReason: "canceled" });
  } else if (request.is_retryable && job.retryableFailures < RETRYABLE_FAILURES_MAX) {
    core.schedule.clear(TASK.stall);
    next = core.transition(job, "requeue", {
      retryableFailures: job.retryableFailures + 1,
      isStalled: false,
      leaseExpiresAt: null,
    });
  } else {
    next = core.transition(job, "fail", { finishReason: "error", error });
  }
  return { ok: true, reply: { status: next?.status ?? job.status } };
}

/**
 * The holder gives its lease back (a draining worker): the lease ends now, so the next worker's lease is not
 * `lease_held`. The job stays running with its blocks; a stale epoch is refused like any lease-holding call.
 */
export function release(core: JobCore, request: ReleaseRequest): WorkerCallResult<JobStatusReply> {
  const job = core.readJob();
  if (job !== null && isTerminalJobStatus(job.status)) return { ok: true, reply: { status: job.status } };
  const refused = fence(job, request.epoch);
  if (refused || job === null) return refused ?? NOT_FOUND;
  core.store.update({ leaseExpiresAt: core.now() });
  return { ok: true, reply: { status: job.status } };
}
