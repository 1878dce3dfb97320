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
} from "@bd3-serve/shared";
import { RETRYABLE_FAILURES_MAX } from "../config/constants.ts";
import type { BlockLog } from "./block-log.ts";
import type { JobRecord } from "./job-record.ts";
import type { WorkerCallResult } from "./job-rpc.ts";
import type { JobLifecycle } from "./job-seams.ts";
import { TASK } from "./tasks.ts";
import { fence, lastFinishReason, leaseLiveUntil, NOT_FOUND, refuse, touch } from "./worker-fencing.ts";

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

/** What the worker calls use of a job: its row and status changes, the schedule, its committed blocks. */
export interface WorkerCallParts extends JobLifecycle {
  readonly blocks: Pick<BlockLog, "entry" | "committedTokenIds">;
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

/**
 * The lease reply. `final_finish_reason` is sent only when the last committed block ended the generation
 * (a worker died between that append and `finish`): left out when null, so workers older than the field,
 * whose reply schema is strict, still parse every other lease.
 */
export function lease(parts: WorkerCallParts, request: LeaseRequest): WorkerCallResult<LeaseReplyInput> {
  const job = parts.readJob();
  if (job === null) return NOT_FOUND;
  if (isTerminalJobStatus(job.status)) return refuse("job_terminal", `the job is already ${job.status}`);
  const now = parts.now();
  const liveUntil = leaseLiveUntil(job);
  // The holder itself may lease again (a retried lease whose first reply was lost); anyone else waits out the
  // term, so two workers never write one job at once and a crashed holder's job is free within one term.
  if (liveUntil > now && request.worker_id !== job.workerId) {
    return {
      ...refuse("lease_held", `another worker holds this job's lease for up to ${LEASE_TERM_SECONDS} s more`),
      retryAfterSeconds: Math.max(1, Math.ceil((liveUntil - now) / 1_000)),
    };
  }
  const leased = parts.transition(job, "lease", {
    epoch: job.epoch + 1,
    // A new lease starts a new producer session on the block stream (its epoch is the lease epoch).
    producerEpoch: null,
    producerLastSeq: null,
    workerId: request.worker_id,
    startedAt: job.startedAt ?? now,
    ...touch(parts, now),
  });
  if (leased === null) return refuse("job_terminal", `the job is already ${job.status}`);
  // The first start arms the job's own run limit (timeout_seconds); a re-lease keeps the original clock.
  if (job.startedAt === null && job.timeoutMs !== null) parts.schedule.set(TASK.timeout, now + job.timeoutMs);
  const finalFinishReason = lastFinishReason(parts, leased.numBlocks);
  return {
    ok: true,
    reply: {
      epoch: leased.epoch,
      status: leased.status,
      committed_blocks: leased.numBlocks,
      committed_token_ids: parts.blocks.committedTokenIds(),
      is_canceled: leased.cancelRequestedAt !== null,
      ...(finalFinishReason !== null ? { final_finish_reason: finalFinishReason } : {}),
    },
  };
}

export function heartbeat(parts: WorkerCallParts, request: HeartbeatRequest): WorkerCallResult<HeartbeatReply> {
  const job = parts.readJob();
  const refused = fence(job, request.epoch);
  if (refused || job === null) return refused ?? NOT_FOUND;
  parts.update(touch(parts, parts.now()));
  return { ok: true, reply: { status: job.status, is_canceled: job.cancelRequestedAt !== null } };
}

export function finish(parts: WorkerCallParts, request: FinishRequest): WorkerCallResult<JobStatusReply> {
  const job = parts.readJob();
  if (job !== null && isTerminalJobStatus(job.status)) return { ok: true, reply: { status: job.status } };
  const refused = fence(job, request.epoch);
  if (refused || job === null) return refused ?? NOT_FOUND;
  // Cancel wins: once a cancel was requested, the job ends canceled whatever the worker reports.
  const canceled = request.finish_reason === "canceled" || job.cancelRequestedAt !== null;
  const done = parts.transition(job, canceled ? "finish_canceled" : "finish", {
    finishReason: canceled ? "canceled" : request.finish_reason,
    usage: edgeUsage(job, request.usage),
    lastHeartbeatAt: parts.now(),
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
export function fail(parts: WorkerCallParts, request: FailRequest): WorkerCallResult<JobStatusReply> {
  const job = parts.readJob();
  if (job === null) return NOT_FOUND;
  if (isTerminalJobStatus(job.status)) return { ok: true, reply: { status: job.status } };
  if (request.epoch === undefined ? job.epoch !== 0 : request.epoch !== job.epoch) {
    return refuse("stale_epoch", `epoch ${request.epoch ?? "none"} is not the current epoch ${job.epoch}`);
  }
  const error = { code: request.code, message: request.message };
  let next: JobRecord | null;
  if (job.cancelRequestedAt !== null) {
    next = parts.transition(job, job.status === "running" ? "cancel_timeout" : "cancel", { finishReason: "canceled" });
  } else if (request.is_retryable && job.retryableFailures < RETRYABLE_FAILURES_MAX) {
    parts.schedule.clear(TASK.stall);
    next = parts.transition(job, "requeue", {
      retryableFailures: job.retryableFailures + 1,
      isStalled: false,
      leaseExpiresAt: null,
    });
  } else {
    next = parts.transition(job, "fail", { finishReason: "error", error });
  }
  return { ok: true, reply: { status: next?.status ?? job.status } };
}

/**
 * The holder gives its lease back (a draining worker): the lease ends now, so the next worker's lease is not
 * `lease_held`. The job stays running with its blocks; a stale epoch is refused like any lease-holding call.
 */
export function release(parts: WorkerCallParts, request: ReleaseRequest): WorkerCallResult<JobStatusReply> {
  const job = parts.readJob();
  if (job !== null && isTerminalJobStatus(job.status)) return { ok: true, reply: { status: job.status } };
  const refused = fence(job, request.epoch);
  if (refused || job === null) return refused ?? NOT_FOUND;
  parts.update({ leaseExpiresAt: parts.now() });
  return { ok: true, reply: { status: job.status } };
}
