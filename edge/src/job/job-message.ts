import { JOB_MESSAGE_VERSION, type JobMessage } from "@bd3-serve/shared";
import { jobCapability } from "../auth/capability.ts";
import type { EdgeConfig } from "../config/config.ts";
import type { JobRecord } from "./job-store.ts";

/** The SQS message of a job (JobMessageSchema): everything a worker needs, plus its per-job capability. */
export async function buildJobMessage(config: EdgeConfig, job: JobRecord, nowMs: number): Promise<JobMessage> {
  return {
    version: JOB_MESSAGE_VERSION,
    job_id: job.id,
    capability: await jobCapability(config.capabilitySecret, job.id),
    model: job.model,
    prompt: job.prompt,
    params: job.params,
    enqueued_at: new Date(nowMs).toISOString(),
    continuation: 0,
  };
}
