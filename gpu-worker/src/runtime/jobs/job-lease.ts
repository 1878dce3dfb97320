/**
 * Taking a job's lease on the edge, the first step of every attempt. The edge refuses a lease while another
 * worker's is live (`lease_held`, with the remaining term as `Retry-After`). That happens mostly right after a
 * crash: the dead worker's last append may have renewed its lease after its last visibility extension, so
 * the message can reappear a little before the lease lapses. Waiting out that remainder here, while this
 * worker's heartbeat keeps the message hidden, costs no receive (SQS counts every receive toward the DLQ);
 * only a lease still held after that one wait (a worker really runs the job: a duplicate delivery) makes the
 * runner leave the message for later. A lease refused as `tenant_running_limit` (the tenant runs its
 * `max_running_jobs`) is not waited out here: the runner re-queues the message with a delay (tenant-limit.ts).
 */
import { type BlockFinishReason, isTerminalJobStatus, LEASE_TERM_SECONDS, type LeaseReply } from "@bd3-serve/shared";
import { type EdgeClient, isEdgeCallError } from "../edge/index.ts";
import type { RunningJob } from "./running-job.ts";

export type LeaseOutcome =
  | { kind: "leased"; lease: LeaseReply }
  /** The edge has no such job. */
  | { kind: "missing" }
  /** Another worker's lease is live: leave the message hidden this long. */
  | { kind: "held"; deferSeconds: number }
  /** The tenant runs as many jobs as its quota allows: re-queue the message, delayed this long. */
  | { kind: "tenant_limited"; retryAfterSeconds: number | undefined }
  | { kind: "failed"; error: unknown };

/** A little past the edge's `Retry-After`, so the retried lease does not land just before the lapse. */
const LEASE_RETRY_MARGIN_MS = 250;

export async function takeLease(edge: EdgeClient, job: RunningJob, workerId: string): Promise<LeaseOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { kind: "leased", lease: await edge.lease(job.id, job.job.capability, { worker_id: workerId }) };
    } catch (error) {
      if (isEdgeCallError(error) && error.status === 404) return { kind: "missing" };
      if (isEdgeCallError(error, "tenant_running_limit")) {
        return { kind: "tenant_limited", retryAfterSeconds: error.retryAfterSeconds };
      }
      if (!isEdgeCallError(error, "lease_held")) return { kind: "failed", error };
      const retryAfterSeconds = Math.min(error.retryAfterSeconds ?? LEASE_TERM_SECONDS, LEASE_TERM_SECONDS);
      if (attempt > 1 || job.phase !== "leasing") return { kind: "held", deferSeconds: retryAfterSeconds };
      job.log.info(
        { retry_after_seconds: retryAfterSeconds },
        "the job's previous lease is still live; waiting it out",
      );
      await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1_000 + LEASE_RETRY_MARGIN_MS));
      if (job.phase !== "leasing") return { kind: "held", deferSeconds: 0 };
    }
  }
}

/** What a lease reply asks of this worker (plain data; the runner carries it out). */
export type LeasePlan =
  /** The job already ended on the edge: delete the message. */
  | { kind: "terminal" }
  /** The job was canceled: confirm and stop. */
  | { kind: "canceled" }
  /** An earlier worker wrote the last block and died before `finish`: finish for it, without the engine. */
  | { kind: "finish"; finishReason: BlockFinishReason | "max_tokens" }
  /** Generate, resuming after the committed blocks. */
  | { kind: "generate" };

export function planAfterLease(lease: LeaseReply, maxTokens: number): LeasePlan {
  if (isTerminalJobStatus(lease.status)) return { kind: "terminal" };
  if (lease.is_canceled) return { kind: "canceled" };
  if (lease.final_finish_reason !== null) return { kind: "finish", finishReason: lease.final_finish_reason };
  if (lease.committed_token_ids.length >= maxTokens) return { kind: "finish", finishReason: "max_tokens" };
  return { kind: "generate" };
}
