/**
 * A lease refused as `tenant_running_limit`: the job's tenant already runs as many jobs as its
 * `max_running_jobs` allows. The edge wrote nothing (the job stays queued), so the message goes back to the
 * queue it came from as a new message, delayed by the edge's Retry-After (SQS DelaySeconds, at most 15 min),
 * and this one is deleted once that send succeeded, as the 12 h continuation hand-over does.
 *
 * Why not a visibility deferral (as for `lease_held`): SQS counts a receive each time a deferred message
 * comes back, so a tenant held at its limit for a while would push its queued jobs into the DLQ. A new
 * message starts again at receive 1; the wait costs nothing toward the DLQ however long it lasts (the job's
 * own start deadline still ends it on the edge). If the send fails, the message is deferred by the same delay
 * instead: that costs one receive, but a release would bring it straight back into the same refusal.
 */
import { SQS_DELAY_SECONDS_MAX } from "../queue/job-queue.ts";
import type { JobControl, JobRunnerOptions } from "./job-context.ts";
import type { RunningJob } from "./running-job.ts";

/** The delay when the edge's refusal carries no Retry-After. */
export const TENANT_LIMIT_DELAY_SECONDS_DEFAULT = 5;

/** The SQS delay for the edge's Retry-After: whole seconds, 1 .. SQS_DELAY_SECONDS_MAX. */
export function tenantLimitDelaySeconds(retryAfterSeconds: number | undefined): number {
  const seconds = Math.ceil(retryAfterSeconds ?? TENANT_LIMIT_DELAY_SECONDS_DEFAULT);
  return Math.min(
    Math.max(1, Number.isFinite(seconds) ? seconds : TENANT_LIMIT_DELAY_SECONDS_DEFAULT),
    SQS_DELAY_SECONDS_MAX,
  );
}

/** Re-queues the job's message with a delay and lets go of the job (the message is deleted after the send). */
export async function requeueForTenantLimit(
  options: Pick<JobRunnerOptions, "queue" | "metrics">,
  control: JobControl,
  job: RunningJob,
  retryAfterSeconds: number | undefined,
): Promise<void> {
  const delaySeconds = tenantLimitDelaySeconds(retryAfterSeconds);
  const { message } = job;
  try {
    await options.queue.send(message.body, message.queueUrl, { delaySeconds });
  } catch (error) {
    options.metrics.queueErrors.inc({ operation: "send" });
    job.log.warn(
      { err: error, delay_seconds: delaySeconds },
      "tenant at its max_running_jobs and the message could not be re-queued; deferring it instead",
    );
    await control.close(job, "lease_held", { deferSeconds: delaySeconds });
    return;
  }
  job.log.info(
    { delay_seconds: delaySeconds, receive_count: message.receiveCount },
    "tenant at its max_running_jobs; message re-queued with a delay",
  );
  await control.close(job, "lease_held", "delete");
}
