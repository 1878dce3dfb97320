import { isTerminalJobStatus } from "@bd3-serve/shared";
import {
  ALARM_TASK_RETRY_MS,
  TOMBSTONE_MS,
  WEBHOOK_DELIVERIES_PER_ALARM,
  WEBHOOK_RETRY_AFTER_MAX_SECONDS,
} from "../config/constants.ts";
import { countEvent } from "../observability/metrics.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import { deliverWebhook } from "../webhooks/deliver.ts";
import { DELIVERY_TASK_PREFIX } from "../webhooks/outbox.ts";
import { nextRetryDelayMs } from "../webhooks/retry-schedule.ts";
import { liveWebhookSecrets } from "../webhooks/tenant-secrets.ts";
import { checkWebhookUrl } from "../webhooks/url-guard.ts";
import { type JobCore, TASK } from "./job-core.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";
import type { JobRecord } from "./job-store.ts";
import { syncLedger } from "./queue-place.ts";

/**
 * The job object's single alarm: runs every schedule row that is due, in due order, then re-arms for the
 * earliest remaining row. A task that throws is retried ALARM_TASK_RETRY_MS later; the others still run.
 * Deliveries are capped per run (WEBHOOK_DELIVERIES_PER_ALARM) so a long block-event backlog cannot hold
 * the object; the rest stay due and the alarm fires again at once.
 */
export async function runAlarm(core: JobCore): Promise<void> {
  const now = core.now();
  let deliveriesRun = 0;
  for (const { task } of core.schedule.due(now)) {
    const job = core.readJob();
    if (job === null) return;
    try {
      if (task.startsWith(DELIVERY_TASK_PREFIX)) {
        if (deliveriesRun >= WEBHOOK_DELIVERIES_PER_ALARM) continue;
        deliveriesRun += 1;
        await runDelivery(core, job, task.slice(DELIVERY_TASK_PREFIX.length));
      } else if (task === TASK.retention) {
        if (await runRetention(core, job)) return;
      } else {
        await runTask(core, job, task);
      }
    } catch (error) {
      console.error(JSON.stringify({ event: "alarm_task_failed", job_id: job.id, task, error: String(error) }));
      core.schedule.set(task, core.now() + ALARM_TASK_RETRY_MS);
    }
  }
  await core.settle();
}

async function runTask(core: JobCore, job: JobRecord, task: string): Promise<void> {
  const now = core.now();
  const { stallTimeoutMs, queueDeadlineMs } = core.config;
  switch (task) {
    case TASK.enqueue:
      await core.enqueue(job);
      return;
    case TASK.indexSync:
      await core.syncIndex(job);
      return;
    case TASK.ledger:
      await syncLedger(core);
      return;
    case TASK.stall: {
      core.schedule.clear(TASK.stall);
      if (job.status !== "running" || job.lastHeartbeatAt === null) return;
      const dueAt = job.lastHeartbeatAt + stallTimeoutMs;
      if (now >= dueAt) core.store.update({ isStalled: true });
      else core.schedule.set(TASK.stall, dueAt);
      return;
    }
    case TASK.expire: {
      core.schedule.clear(TASK.expire);
      if (isTerminalJobStatus(job.status)) return;
      // Queued: the job's own start deadline (ttl_seconds); running: the queue deadline since the last sign
      // of its worker (a worker that vanished without its lease lapsing into a redelivery).
      const dueAt =
        job.status === "running"
          ? (job.lastHeartbeatAt ?? job.createdAt) + queueDeadlineMs
          : (job.startByAt ?? job.createdAt + queueDeadlineMs);
      if (now < dueAt) {
        core.schedule.set(TASK.expire, dueAt);
        return;
      }
      const message = job.status === "queued" ? "no worker took the job in time" : "the worker stopped responding";
      core.transition(job, "expire", { error: { code: "deadline_exceeded", message } });
      return;
    }
    case TASK.timeout:
      core.schedule.clear(TASK.timeout);
      if (job.status === "running" && job.cancelRequestedAt === null && job.timeoutMs !== null) {
        // The same path as a tenant's cancel of a running job: the worker stops at its next block boundary
        // and finishes canceled (committed blocks kept), or the cancel grace ends it.
        core.store.update({
          cancelRequestedAt: now,
          error: {
            code: "timeout_exceeded",
            message: `ran longer than its timeout_seconds (${Math.round(job.timeoutMs / 1_000)} s)`,
          },
        });
        core.schedule.set(TASK.cancelDeadline, now + core.config.cancelGraceMs);
      }
      return;
    case TASK.cancelDeadline:
      core.schedule.clear(TASK.cancelDeadline);
      if (job.status === "running" && job.cancelRequestedAt !== null) {
        core.transition(job, "cancel_timeout", { finishReason: "canceled" });
      }
      return;
    default:
      core.schedule.clear(task);
  }
}

async function runDelivery(core: JobCore, job: JobRecord, deliveryId: string): Promise<void> {
  const pending = core.outbox.pending(deliveryId);
  if (pending === null || job.webhook === null) {
    core.schedule.clear(`${DELIVERY_TASK_PREFIX}${deliveryId}`);
    return;
  }
  const { config } = core;
  const verdict = checkWebhookUrl(job.webhook.url, {
    isDevelopment: config.isDevelopment,
    devAllowedHosts: config.webhookDevAllowedHosts,
  });
  if (!verdict.ok) {
    core.outbox.giveUpAll(verdict.reason, core.now());
    countEvent(core.env, "webhook_deliveries", "gave_up", { detail: "url_refused", tenantId: job.tenantId });
    return;
  }
  const outcome = await deliverWebhook({
    url: job.webhook.url,
    messageId: `msg_${deliveryId}`,
    body: pending.body,
    secrets: await liveWebhookSecrets(core.env, config, job.tenantId, core.now()),
    at: new Date(core.now()),
  });
  const now = core.now();
  if (outcome.kind === "succeeded") {
    core.outbox.record(deliveryId, { status: "succeeded", statusCode: outcome.statusCode, error: null }, now);
    countEvent(core.env, "webhook_deliveries", "succeeded", { tenantId: job.tenantId });
  } else if (outcome.kind === "gone") {
    core.outbox.record(deliveryId, { status: "gave_up", statusCode: outcome.statusCode, error: "410 Gone" }, now);
    core.outbox.giveUpAll("endpoint answered 410 Gone", now);
    countEvent(core.env, "webhook_deliveries", "gave_up", { detail: "410", tenantId: job.tenantId });
  } else {
    const scheduled = nextRetryDelayMs(pending.attempts + 1, Math.random());
    const { statusCode, error } = outcome;
    if (scheduled === null) {
      core.outbox.record(deliveryId, { status: "failed", statusCode, error }, now);
      countEvent(core.env, "webhook_deliveries", "failed", { tenantId: job.tenantId });
    } else {
      const retryAfterMs =
        outcome.retryAfterSeconds === null
          ? null
          : Math.min(outcome.retryAfterSeconds, WEBHOOK_RETRY_AFTER_MAX_SECONDS) * 1_000;
      const nextAttemptAt = now + (retryAfterMs ?? scheduled);
      core.outbox.record(deliveryId, { status: "pending", statusCode, error, nextAttemptAt }, now);
      countEvent(core.env, "webhook_deliveries", "retrying", { tenantId: job.tenantId });
    }
  }
}

/**
 * Retention, in two steps. First, `retentionMs` after the job finished, its text is deleted (document, block
 * log, webhook bodies) and the job row marked purged: every read answers 410 from then on, which tells a
 * client the text existed and is gone. Then, TOMBSTONE_MS later, the object is deleted for good (storage,
 * alarm, index row): the id is a 404 and its Idempotency-Key may be used again. True when the object is
 * now empty.
 */
async function runRetention(core: JobCore, job: JobRecord): Promise<boolean> {
  if (!isTerminalJobStatus(job.status)) {
    core.schedule.clear(TASK.retention);
    return false;
  }
  const now = core.now();
  if (job.purgedAt === null) {
    const purgeAt = (job.finishedAt ?? now) + (job.retentionMs ?? core.config.retentionMs);
    if (now < purgeAt) {
      core.schedule.set(TASK.retention, purgeAt);
      return false;
    }
    core.document.purge();
    core.blocks.purge();
    core.outbox.purge("the job's retention period ended", now);
    core.store.update({ purgedAt: now });
    core.schedule.set(TASK.retention, now + TOMBSTONE_MS);
    core.notifier.notify(DOCUMENT_STREAM);
    return false;
  }
  if (now < job.purgedAt + TOMBSTONE_MS) {
    core.schedule.set(TASK.retention, job.purgedAt + TOMBSTONE_MS);
    return false;
  }
  await tenantIndexStub(core.env, job.tenantId).remove(job.id);
  await core.ctx.storage.deleteAlarm();
  await core.ctx.storage.deleteAll();
  core.store.forget();
  core.document.streams.forget();
  return true;
}
