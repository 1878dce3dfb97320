import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { ApiError } from "../../errors/api-error.ts";
import { quotaFor } from "../../tenant/quota-config.ts";
import { tenantIndexStub } from "../../tenant/tenant-index-stub.ts";

/**
 * A create's pass through its tenant's quotas (tenant/tenant-usage.ts), before the job exists: one call to
 * the tenant's index object, which checks and counts in one step (no lost update, no overshoot under
 * concurrent creates), and lists the job in the tenant's index as queued (`isNew`: this call wrote that row).
 * Over a quota: 429 with `Retry-After` and a code naming it (`quota_max_queued_jobs`,
 * `quota_tokens_per_day`). A replay of an Idempotency-Key passes (the job is already counted).
 */
export async function admitToQuota(c: Context<AppEnv>, jobId: string): Promise<{ isNew: boolean }> {
  const { caller, config } = c.var;
  const quota = quotaFor(config.quotas, caller.tenantId);
  const admission = await tenantIndexStub(c.env, caller.tenantId).admit({
    jobId,
    keyId: caller.keyId,
    nowMs: Date.now(),
    quota,
  });
  if (admission.ok) return { isNew: admission.isNew };
  const what = admission.quota === "max_queued_jobs" ? "jobs waiting to start" : "completion tokens today (UTC)";
  throw new ApiError(
    429,
    "rate_limit_error",
    `over the tenant's quota ${admission.quota}: at most ${admission.limit} ${what}`,
    {
      code: `quota_${admission.quota}`,
      param: admission.quota,
      headers: { "Retry-After": String(admission.retryAfterSeconds) },
    },
  );
}
