import { z } from "zod";

/**
 * A tenant's quotas and usage (`GET /v1/usage`). Counts are kept on the edge in the tenant's index object,
 * one writer per tenant, so concurrent creates never lose an update. Jobs count on the UTC day they were
 * created; tokens on the day their job ended (a job's usage is known then).
 */
export const QuotaSchema = z.strictObject({
  /** Jobs waiting to start at once; a create over it is 429 `quota_max_queued_jobs`. Null: no limit. */
  max_queued_jobs: z.int().min(1).nullable(),
  /** Completion tokens of jobs ended in one UTC day; a create over it is 429 `quota_tokens_per_day`. */
  tokens_per_day: z.int().min(1).nullable(),
  /**
   * Jobs running at once (leased by a GPU worker); a lease over it is 409 `tenant_running_limit` and the job
   * waits in its queue (docs/worker-api.md). Null: no limit. Absent in QUOTAS: the default's (null).
   */
  max_running_jobs: z.int().min(1).nullable(),
});
export type Quota = z.infer<typeof QuotaSchema>;

export const UsageRowSchema = z.strictObject({
  key_id: z.string(),
  jobs: z.int().min(0),
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
});

export const UsageDaySchema = z.strictObject({
  /** UTC day, `YYYY-MM-DD`. */
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  jobs: z.int().min(0),
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  keys: z.array(UsageRowSchema),
});

export const UsageReportSchema = z.strictObject({
  object: z.literal("usage"),
  tenant_id: z.string(),
  quota: QuotaSchema,
  now: z.strictObject({
    queued_jobs: z.int().min(0),
    running_jobs: z.int().min(0),
    completion_tokens_today: z.int().min(0),
  }),
  /** Newest first. */
  days: z.array(UsageDaySchema),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;
