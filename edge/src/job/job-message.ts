import { JOB_MESSAGE_VERSION, type JobMessage, PRIORITY_DEFAULT } from "@bd3-serve/shared";
import { jobCapability } from "../auth/capability.ts";
import type { EdgeConfig } from "../config/config.ts";
import { CAPABILITY_RUN_ALLOWANCE_MS } from "../config/constants.ts";
import type { JobRecord } from "./job-record.ts";

/**
 * The SQS message of a job (JobMessageSchema): everything a worker needs, plus its per-job capability, which
 * expires CAPABILITY_RUN_ALLOWANCE_MS after the job's queue deadline (the latest it may start).
 */
export function capabilityExpiresAtMs(config: EdgeConfig, job: JobRecord): number {
  return job.createdAt + config.queueDeadlineMs + CAPABILITY_RUN_ALLOWANCE_MS;
}

/** The job's priority; objects from before priorities are normal. */
export function jobPriority(job: JobRecord): number {
  return job.priority ?? PRIORITY_DEFAULT;
}

export async function buildJobMessage(config: EdgeConfig, job: JobRecord, nowMs: number): Promise<JobMessage> {
  return {
    version: JOB_MESSAGE_VERSION,
    job_id: job.id,
    capability: await jobCapability(config.capabilitySecret, job.id, capabilityExpiresAtMs(config, job)),
    model: job.model,
    prompt: job.prompt,
    params: job.params,
    enqueued_at: new Date(nowMs).toISOString(),
    continuation: 0,
    request_id: job.requestId,
    ...(job.startByAt === null ? {} : { start_by: new Date(job.startByAt).toISOString() }),
    priority: jobPriority(job),
  };
}
