import { isTerminalJobStatus } from "@bd3-serve/shared";
import { ALARM_TASK_RETRY_MS, WEBHOOK_DELIVERIES_PER_ALARM } from "../config/constants.ts";
import { DELIVERY_TASK_PREFIX } from "../webhooks/outbox.ts";
import { type DeliveryParts, runDelivery } from "./delivery-task.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobLifecycle, WithSideEffects } from "./job-seams.ts";
import { type RetentionParts, runRetention } from "./retention-task.ts";
import { TASK } from "./tasks.ts";

/** What the alarm uses of a job: every task's parts, and the side effects it retries. */
export interface AlarmParts extends JobLifecycle, DeliveryParts, RetentionParts, WithSideEffects {}

/**
 * The job object's single alarm: runs every schedule row that is due, in due order, then re-arms for the
 * earliest remaining row. A task that throws is retried ALARM_TASK_RETRY_MS later; the others still run.
 * Deliveries are capped per run (WEBHOOK_DELIVERIES_PER_ALARM) so a long block-event backlog cannot hold
 * the object; the rest stay due and the alarm fires again at once.
 */
export async function runAlarm(parts: AlarmParts): Promise<void> {
  const now = parts.now();
  let deliveriesRun = 0;
  for (const { task } of parts.schedule.due(now)) {
    const job = parts.readJob();
    if (job === null) return;
    try {
      if (task.startsWith(DELIVERY_TASK_PREFIX)) {
        if (deliveriesRun >= WEBHOOK_DELIVERIES_PER_ALARM) continue;
        deliveriesRun += 1;
        await runDelivery(parts, job, task.slice(DELIVERY_TASK_PREFIX.length));
      } else if (task === TASK.retention) {
        if (await runRetention(parts, job)) return;
      } else {
        await runTask(parts, job, task);
      }
    } catch (error) {
      console.error(JSON.stringify({ event: "alarm_task_failed", job_id: job.id, task, error: String(error) }));
      parts.schedule.set(task, parts.now() + ALARM_TASK_RETRY_MS);
    }
  }
  await parts.effects.settle();
}

/** The tasks that are not deliveries or retention: side effect retries and the job's deadlines. */
async function runTask(parts: JobLifecycle & WithSideEffects, job: JobRecord, task: string): Promise<void> {
  const now = parts.now();
  const { stallTimeoutMs, queueDeadlineMs } = parts.config;
  switch (task) {
    case TASK.enqueue:
      await parts.effects.enqueue(job);
      return;
    case TASK.indexSync:
      await parts.effects.syncIndex(job);
      return;
    case TASK.ledger:
      await parts.effects.syncLedger();
      return;
    case TASK.stall: {
      parts.schedule.clear(TASK.stall);
      if (job.status !== "running" || job.lastHeartbeatAt === null) return;
      const dueAt = job.lastHeartbeatAt + stallTimeoutMs;
      if (now >= dueAt) parts.update({ isStalled: true });
      else parts.schedule.set(TASK.stall, dueAt);
      return;
    }
    case TASK.expire: {
      parts.schedule.clear(TASK.expire);
      if (isTerminalJobStatus(job.status)) return;
      // Queued: the job's own start deadline (ttl_seconds); running: the queue deadline since the last sign
      // of its worker (a worker that vanished without its lease lapsing into a redelivery).
      const dueAt =
        job.status === "running"
          ? (job.lastHeartbeatAt ?? job.createdAt) + queueDeadlineMs
          : (job.startByAt ?? job.createdAt + queueDeadlineMs);
      if (now < dueAt) {
        parts.schedule.set(TASK.expire, dueAt);
        return;
      }
      const message = job.status === "queued" ? "no worker took the job in time" : "the worker stopped responding";
      parts.transition(job, "expire", { error: { code: "deadline_exceeded", message } });
      return;
    }
    case TASK.timeout:
      parts.schedule.clear(TASK.timeout);
      if (job.status === "running" && job.cancelRequestedAt === null && job.timeoutMs !== null) {
        // The same path as a tenant's cancel of a running job: the worker stops at its next block boundary
        // and finishes canceled (committed blocks kept), or the cancel grace ends it.
        parts.update({
          cancelRequestedAt: now,
          error: {
            code: "timeout_exceeded",
            message: `ran longer than its timeout_seconds (${Math.round(job.timeoutMs / 1_000)} s)`,
          },
        });
        parts.schedule.set(TASK.cancelDeadline, now + parts.config.cancelGraceMs);
      }
      return;
    case TASK.cancelDeadline:
      parts.schedule.clear(TASK.cancelDeadline);
      if (job.status === "running" && job.cancelRequestedAt !== null) {
        parts.transition(job, "cancel_timeout", { finishReason: "canceled" });
      }
      return;
    default:
      parts.schedule.clear(task);
  }
}
