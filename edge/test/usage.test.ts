import { ErrorBodySchema, UsageReportSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob, json } from "./helpers/api.ts";
import { append, finish, lease } from "./helpers/worker.ts";

/** Quotas and usage per tenant (issue 17, item 2), counted in the tenant's index object. */

async function usage(key: "usage" | "queuedQuota" | "tokenQuota") {
  const reply = await call("GET", "/v1/usage?days=2", { key });
  expect(reply.status).toBe(200);
  return UsageReportSchema.parse(await reply.json());
}

describe("GET /v1/usage", () => {
  it("counts 50 concurrent creates exactly, per key", async () => {
    const keys = Array.from({ length: 50 }, (_, i): "usage" | "usageSecond" => (i % 5 === 0 ? "usageSecond" : "usage"));
    const created = await Promise.all(keys.map((key) => createJob({ prompt: "count me" }, { key })));
    expect(new Set(created.map((job) => job.id)).size).toBe(50);
    const report = await usage("usage");
    const [today] = report.days;
    expect(today?.date).toBe(new Date().toISOString().slice(0, 10));
    expect(today?.jobs).toBe(50);
    expect(today?.keys.find((row) => row.key_id === "key_usage")?.jobs).toBe(40);
    expect(today?.keys.find((row) => row.key_id === "key_usage_2")?.jobs).toBe(10);
    expect(report.now.queued_jobs).toBe(50);
    // A replay of an Idempotency-Key is the same job: not counted twice.
    const body = { prompt: "replayed" };
    const headers = { "Idempotency-Key": "usage-replay" };
    expect((await call("POST", "/v1/generations", { key: "usage", body, headers })).status).toBe(202);
    expect((await call("POST", "/v1/generations", { key: "usage", body, headers })).status).toBe(202);
    expect((await usage("usage")).days[0]?.jobs).toBe(51);
  });

  it("refuses a bad days parameter naming it", async () => {
    const reply = await call("GET", "/v1/usage?days=0", { key: "usage" });
    expect(reply.status).toBe(400);
    expect(ErrorBodySchema.parse(await reply.json()).error.param).toBe("days");
  });
});

describe("quotas", () => {
  it("refuses a create over max_queued_jobs with 429, Retry-After and the quota's name, then admits once one left", async () => {
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await createJob({ prompt: `queued ${i}` }, { key: "queuedQuota" }));
    const refused = await call("POST", "/v1/generations", { key: "queuedQuota", body: { prompt: "one too many" } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(ErrorBodySchema.parse(await refused.json()).error).toMatchObject({
      type: "rate_limit_error",
      code: "quota_max_queued_jobs",
      param: "max_queued_jobs",
    });
    // Nothing was written for the refused create.
    expect((await usage("queuedQuota")).days[0]?.jobs).toBe(3);
    const list = await json<{ data: unknown[] }>(
      await call("GET", "/v1/generations?limit=100", { key: "queuedQuota" }),
    );
    expect(list.data).toHaveLength(3);
    // One queued job leaves (canceled): the window opens.
    expect((await call("POST", `/v1/generations/${jobs[0]?.id}/cancel`, { key: "queuedQuota", body: {} })).status).toBe(
      200,
    );
    expect((await call("POST", "/v1/generations", { key: "queuedQuota", body: { prompt: "now" } })).status).toBe(202);
  });

  it("refuses creates once the day's completion tokens reach tokens_per_day, until the next UTC day", async () => {
    const job = await createJob({ prompt: "spend" }, { key: "tokenQuota" });
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0);
    await append(job.id, epoch, 1);
    expect((await finish(job.id, epoch)).status).toBe(200);
    const report = await usage("tokenQuota");
    expect(report.now.completion_tokens_today).toBeGreaterThanOrEqual(10);
    expect(report.days[0]?.keys[0]?.completion_tokens).toBe(report.now.completion_tokens_today);
    const refused = await call("POST", "/v1/generations", { key: "tokenQuota", body: { prompt: "more" } });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(ErrorBodySchema.parse(await refused.json()).error.code).toBe("quota_tokens_per_day");
  });
});
