/**
 * Makes dead-lettered jobs visible on the edge. A job whose attempts all crashed the worker (OOM, segfault,
 * kill) never got a chance to report; SQS moved its message to the DLQ after `maxReceiveCount` receives. This
 * watcher long-polls the DLQ, fails each job on the edge (lease for a fresh epoch, then fail with code
 * `dead_lettered`) and deletes the DLQ message once the edge has a terminal outcome; the message body is
 * logged first so nothing is lost for an operator. A message that names no job, or that the edge cannot be told
 * about yet, stays in the DLQ (hidden for DLQ_RETRY_VISIBILITY_SECONDS between tries); one whose job's lease
 * is still live (`lease_held`) is looked at again when that lease would have lapsed.
 */
import { isTerminalJobStatus, JobMessageEnvelopeSchema, LEASE_TERM_SECONDS } from "@bd3-serve/shared";
import { Consumer } from "../consumer/consumer.ts";
import { type EdgeClient, isEdgeCallError } from "../edge/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";
import type { JobQueue, QueueMessage } from "../queue/job-queue.ts";

/** A DLQ message the edge could not be told about is retried after this long, in seconds. */
export const DLQ_RETRY_VISIBILITY_SECONDS = 300;
/** A DLQ message that names no job is looked at again after this long (SQS's maximum), in seconds. */
export const DLQ_UNREADABLE_VISIBILITY_SECONDS = 12 * 60 * 60;
/** Messages handled per receive. */
const DLQ_BATCH_SIZE = 10;

export const DEAD_LETTER_CODE = "dead_lettered";

export interface DlqWatcherOptions {
  dlq: JobQueue;
  edge: EdgeClient;
  workerId: string;
  receiveWaitSeconds: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

export function createDlqWatcher(options: DlqWatcherOptions): Consumer {
  const { dlq, logger, metrics } = options;
  return new Consumer({
    queue: dlq,
    slots: { freeSlots: () => DLQ_BATCH_SIZE, waitForFreeSlot: async () => {} },
    handleMessage: (message) => handleDeadLetter(options, message),
    receiveWaitSeconds: options.receiveWaitSeconds,
    visibilityTimeoutSeconds: DLQ_RETRY_VISIBILITY_SECONDS,
    logger: logger.child({ component: "dlq-watcher" }),
    metrics,
  });
}

export async function handleDeadLetter(options: DlqWatcherOptions, message: QueueMessage): Promise<void> {
  const { dlq, edge, workerId, logger } = options;
  let json: unknown;
  try {
    json = JSON.parse(message.body);
  } catch {
    json = undefined;
  }
  const envelope = JobMessageEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    logger.error({ message_id: message.messageId, body: message.body.slice(0, 2_000) }, "dead letter names no job");
    await dlq.changeVisibility(message, DLQ_UNREADABLE_VISIBILITY_SECONDS).catch(() => {});
    return;
  }
  const { job_id: jobId, capability } = envelope.data;
  const log = logger.child({ job_id: jobId, message_id: message.messageId });
  log.warn({ receive_count: message.receiveCount, body: message.body.slice(0, 2_000) }, "dead-lettered job");
  try {
    const lease = await edge.lease(jobId, capability, { worker_id: workerId });
    if (!isTerminalJobStatus(lease.status) && !lease.is_canceled) {
      await edge.fail(jobId, capability, {
        epoch: lease.epoch,
        code: DEAD_LETTER_CODE,
        message: "every attempt to run this job ended without a result; it was moved to the dead-letter queue",
        is_retryable: false,
      });
    }
  } catch (error) {
    if (isEdgeCallError(error, "lease_held")) {
      // A lease is live: the worker that crashed may have called moments ago (its lease lapses within one term),
      // or a worker is running the job after all. Look again once that lease would have lapsed.
      const deferSeconds = Math.max(1, Math.ceil(error.retryAfterSeconds ?? LEASE_TERM_SECONDS));
      log.info({ defer_seconds: deferSeconds }, "the dead-lettered job's lease is still live; looking again later");
      await dlq.changeVisibility(message, deferSeconds).catch(() => {});
      return;
    }
    const isSettled =
      isEdgeCallError(error) && (error.status === 404 || error.code === "job_terminal" || error.code === "stale_epoch");
    if (!isSettled) {
      log.warn({ err: error }, "could not fail the dead-lettered job on the edge; will retry");
      await dlq.changeVisibility(message, DLQ_RETRY_VISIBILITY_SECONDS).catch(() => {});
      return;
    }
  }
  options.metrics.jobs.inc({ outcome: "failed" });
  log.warn("dead-lettered job failed on the edge; deleting the DLQ message");
  await dlq.delete(message).catch((error: unknown) => log.warn({ err: error }, "DLQ delete failed"));
}
