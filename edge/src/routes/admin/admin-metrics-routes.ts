import { Hono } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { requireScope } from "../../middleware/require-scope.ts";
import { snapshotCounters } from "../../observability/metrics.ts";

/**
 * `GET /v1/admin/metrics` (an `admin`-scoped key): the operator counts of the isolate that answers
 * (observability/metrics.ts). Per isolate: zero at each isolate start, and counts made inside job objects (queue
 * sends, webhook deliveries) appear only when the object ran in this isolate; Analytics Engine (the `METRICS`
 * dataset) has the totals.
 */
export function adminMetricsRoutes() {
  const app = new Hono<AppEnv>();
  app.use("*", requireScope("admin"));
  app.get("/metrics", (c) => {
    const { since, counters } = snapshotCounters();
    return c.json({ object: "metrics", scope: "isolate", since, ...counters }, 200, { "Cache-Control": "no-store" });
  });
  return app;
}
