import type { UsageReport } from "@bd3-serve/shared";
import { Hono } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { intParam } from "../../http/query.ts";
import { quotaFor } from "../../tenant/quota-config.ts";
import { tenantIndexStub } from "../../tenant/tenant-index-stub.ts";
import { USAGE_DAYS_MAX } from "../../tenant/tenant-usage.ts";

const USAGE_DAYS_DEFAULT = 7;

/**
 * `GET /v1/usage?days=N`: the caller's tenant's quotas, its live counts (queued and running jobs, completion
 * tokens today) and per-day, per-key usage for the last N UTC days (default 7, at most 90), from the counts
 * the edge keeps in the tenant's index object (tenant/tenant-usage.ts).
 */
export function usageRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const { tenantId } = c.var.caller;
    const days = intParam(c.req.query("days"), "days", { min: 1, max: USAGE_DAYS_MAX, fallback: USAGE_DAYS_DEFAULT });
    const report = await tenantIndexStub(c.env, tenantId).usageReport(days);
    const body: UsageReport = {
      object: "usage",
      tenant_id: tenantId,
      quota: quotaFor(c.var.config.quotas, tenantId),
      now: {
        queued_jobs: report.now.queued,
        running_jobs: report.now.running,
        completion_tokens_today: report.now.completionTokensToday,
      },
      days: report.days,
    };
    return c.json(body);
  });
  return app;
}
