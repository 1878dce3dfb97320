/**
 * A message the runner cannot run (it does not parse, or its version is not this worker's): failed on the edge
 * when it still names a job (job_id + capability), then deleted. If the edge cannot be told, the message is
 * kept and comes back (ending in the DLQ at worst), so no job is left queued with nothing behind it.
 */
import { isEdgeCallError } from "../edge/index.ts";
import type { QueueMessage } from "../queue/job-queue.ts";
import type { JobRunnerOptions } from "./job-context.ts";
import type { MessageActions } from "./message-actions.ts";

export async function rejectInvalidMessage(
  options: Pick<JobRunnerOptions, "edge" | "logger" | "metrics">,
  messages: MessageActions,
  message: QueueMessage,
  envelope: { job_id: string; capability: string } | undefined,
  code: string,
  reason: string,
): Promise<void> {
  const { edge, logger, metrics } = options;
  const log = logger.child({ job_id: envelope?.job_id, message_id: message.messageId });
  if (envelope === undefined) {
    log.error({ code, reason, body: message.body.slice(0, 500) }, "deleting a message that names no job");
  } else {
    try {
      await edge.fail(envelope.job_id, envelope.capability, { code, message: reason, is_retryable: false });
      log.warn({ code, reason }, "failed an invalid job message on the edge");
    } catch (error) {
      if (!isEdgeCallError(error) || error.isRetryable) {
        // The edge could not be told: keep the message; it comes back (and ends in the DLQ at worst).
        log.warn({ err: error, code }, "could not fail an invalid message on the edge; it will be retried");
        await messages.apply(message, "retry", log);
        return;
      }
      log.warn({ err: error, code }, "edge refused to fail an invalid message; deleting it");
    }
  }
  metrics.jobs.inc({ outcome: "invalid" });
  await messages.apply(message, "delete", log);
}
