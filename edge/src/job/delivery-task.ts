import { WEBHOOK_RETRY_AFTER_MAX_SECONDS } from "../config/constants.ts";
import { countEvent } from "../observability/metrics.ts";
import { deliverWebhook } from "../webhooks/deliver.ts";
import { DELIVERY_TASK_PREFIX } from "../webhooks/outbox.ts";
import { nextRetryDelayMs } from "../webhooks/retry-schedule.ts";
import { liveWebhookSecrets } from "../webhooks/tenant-secrets.ts";
import { checkWebhookUrl } from "../webhooks/url-guard.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobBindings, JobContext, JobTasks, JobWebhooks } from "./job-seams.ts";

/** What a delivery uses of a job: the outbox and its schedule rows, the settings, the signing secrets. */
export interface DeliveryParts extends JobContext, JobTasks, JobWebhooks, JobBindings {}

/**
 * One `delivery:<id>` task of the alarm: a signed POST of the outbox row to the job's webhook, its outcome
 * recorded on the row (succeeded, gave up, failed for good, or pending with its next attempt scheduled by
 * the outbox). A URL the guard refuses, or a 410 from the receiver, gives up every delivery of the job.
 */
export async function runDelivery(parts: DeliveryParts, job: JobRecord, deliveryId: string): Promise<void> {
  const { outbox, config, env } = parts;
  const pending = outbox.pending(deliveryId);
  if (pending === null || job.webhook === null) {
    parts.schedule.clear(`${DELIVERY_TASK_PREFIX}${deliveryId}`);
    return;
  }
  const verdict = checkWebhookUrl(job.webhook.url, {
    isDevelopment: config.isDevelopment,
    devAllowedHosts: config.webhookDevAllowedHosts,
  });
  if (!verdict.ok) {
    outbox.giveUpAll(verdict.reason, parts.now());
    countEvent(env, "webhook_deliveries", "gave_up", { detail: "url_refused", tenantId: job.tenantId });
    return;
  }
  const outcome = await deliverWebhook({
    url: job.webhook.url,
    messageId: `msg_${deliveryId}`,
    body: pending.body,
    secrets: await liveWebhookSecrets(env, config, job.tenantId, parts.now()),
    at: new Date(parts.now()),
  });
  const now = parts.now();
  if (outcome.kind === "succeeded") {
    outbox.record(deliveryId, { status: "succeeded", statusCode: outcome.statusCode, error: null }, now);
    countEvent(env, "webhook_deliveries", "succeeded", { tenantId: job.tenantId });
  } else if (outcome.kind === "gone") {
    outbox.record(deliveryId, { status: "gave_up", statusCode: outcome.statusCode, error: "410 Gone" }, now);
    outbox.giveUpAll("endpoint answered 410 Gone", now);
    countEvent(env, "webhook_deliveries", "gave_up", { detail: "410", tenantId: job.tenantId });
  } else {
    const scheduled = nextRetryDelayMs(pending.attempts + 1, Math.random());
    const { statusCode, error } = outcome;
    if (scheduled === null) {
      outbox.record(deliveryId, { status: "failed", statusCode, error }, now);
      countEvent(env, "webhook_deliveries", "failed", { tenantId: job.tenantId });
    } else {
      const retryAfterMs =
        outcome.retryAfterSeconds === null
          ? null
          : Math.min(outcome.retryAfterSeconds, WEBHOOK_RETRY_AFTER_MAX_SECONDS) * 1_000;
      const nextAttemptAt = now + (retryAfterMs ?? scheduled);
      outbox.record(deliveryId, { status: "pending", statusCode, error, nextAttemptAt }, now);
      countEvent(env, "webhook_deliveries", "retrying", { tenantId: job.tenantId });
    }
  }
}
