import type { EdgeConfig } from "../config/config.ts";
import type { Env } from "../env.ts";
import type { JobRecord } from "../job/job-record.ts";
import type { Refusal } from "../job/job-rpc.ts";
import { refuse } from "../job/worker-fencing.ts";
import { quotaFor } from "./quota-config.ts";
import { tenantIndexStub } from "./tenant-index-stub.ts";

/** How long a lease refused by `max_running_jobs` is told to wait: about one worker heartbeat round or two. */
export const RUNNING_QUOTA_RETRY_AFTER_SECONDS = 5;

/**
 * A lease's pass through the tenant's `max_running_jobs`, before the job object changes anything: only a
 * first start (the job is queued) of a tenant with the quota asks the tenant's index object, which counts and
 * marks in one step (tenant/running-slots.ts). A re-lease of a running job (crash recovery, a retried lease)
 * is never checked: the job already holds its slot. Null: go on with the lease; a refusal is 409
 * `tenant_running_limit` with Retry-After, and nothing was written on the job.
 *
 * Fails open: when the index object cannot be reached the lease goes on (logged as `running_quota_unchecked`).
 * The quota is a fairness limit between tenants, not a safety one; refusing instead would stall every queued
 * job of the tenant (each refusal re-queues its message) for as long as the index is out, while open costs at
 * most the leases of that window over the limit, and the lease's index sync counts them as soon as it is back.
 */
export async function admitToRunningQuota(
  env: Env,
  config: EdgeConfig,
  job: JobRecord | null,
): Promise<Refusal | null> {
  if (job === null || job.status !== "queued") return null;
  const max = quotaFor(config.quotas, job.tenantId).max_running_jobs;
  if (max === null) return null;
  try {
    const start = await tenantIndexStub(env, job.tenantId).tryStart({
      jobId: job.id,
      max,
      statusVersion: job.statusVersion,
      createdAt: job.createdAt,
    });
    if (start.ok) return null;
    return {
      ...refuse(
        "tenant_running_limit",
        `the tenant runs ${start.running} jobs, its quota max_running_jobs is ${max}; the job stays queued`,
      ),
      retryAfterSeconds: RUNNING_QUOTA_RETRY_AFTER_SECONDS,
    };
  } catch (error) {
    console.warn(
      JSON.stringify({
        event: "running_quota_unchecked",
        job_id: job.id,
        tenant_id: job.tenantId,
        error: String(error).slice(0, 500),
      }),
    );
    return null;
  }
}
