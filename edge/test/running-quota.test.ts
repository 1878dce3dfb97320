import { ErrorBodySchema, type JobView, UsageReportSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob, json } from "./helpers/api.ts";
import { append, finish, lease, takeOver, workerCall } from "./helpers/worker.ts";

/**
 * `max_running_jobs` (issue 17, item 2): checked at a job's first lease in the tenant's index object.
 * tenant_running has `max_running_jobs: 1` (QUOTAS in vitest.config.ts).
 */

const key = "runningQuota" as const;

async function view(jobId: string) {
  return json<JobView>(await call("GET", `/v1/generations/${jobId}`, { key }));
}

async function runningJobs() {
  const reply = await call("GET", "/v1/usage?days=1", { key });
  return UsageReportSchema.parse(await reply.json());
}

async function end(jobId: string, epoch: number) {
  expect((await append(jobId, epoch, 0, undefined, "eos")).status).toBe(200);
  expect((await finish(jobId, epoch)).status).toBe(200);
}

describe("max_running_jobs", () => {
  it("refuses a second job's lease with 409 tenant_running_limit until the first one ends", async () => {
    expect((await runningJobs()).quota.max_running_jobs).toBe(1);
    const first = await createJob({ prompt: "first" }, { key });
    const second = await createJob({ prompt: "second" }, { key });
    const { epoch } = await lease(first.id);

    const refused = await workerCall(second.id, "lease", { worker_id: "worker-2" });
    expect(refused.status).toBe(409);
    expect(Number(refused.headers.get("Retry-After"))).toBe(5);
    expect(ErrorBodySchema.parse(await refused.json()).error).toMatchObject({
      type: "conflict_error",
      code: "tenant_running_limit",
    });
    // Nothing was written on the refused job: still queued, never started.
    expect(await view(second.id)).toMatchObject({ status: "queued", started_at: null });
    expect((await runningJobs()).now).toMatchObject({ running_jobs: 1, queued_jobs: 1 });

    // A re-lease of the running job (its worker crashed) is not checked, although the tenant is at its limit.
    const resumed = await takeOver(first.id, "worker-3");
    expect(resumed.epoch).toBe(epoch + 1);

    // The first job ends: its slot frees and the second one leases.
    await end(first.id, resumed.epoch);
    const started = await lease(second.id, "worker-2");
    expect(started.status).toBe("running");
    expect((await runningJobs()).now.running_jobs).toBe(1);
    await end(second.id, started.epoch);
    expect((await runningJobs()).now.running_jobs).toBe(0);
  });

  it("grants exactly one of concurrent first leases at the limit", async () => {
    const jobs = await Promise.all([0, 1, 2, 3].map((i) => createJob({ prompt: `race ${i}` }, { key })));
    const replies = await Promise.all(jobs.map((job, i) => workerCall(job.id, "lease", { worker_id: `racer-${i}` })));
    const statuses = replies.map((reply) => reply.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(3);
    const winner = replies.findIndex((reply) => reply.status === 200);
    const { epoch } = await json<{ epoch: number }>(replies[winner]!);
    // A retried lease by the winner (its first reply lost) is not a second start.
    expect((await workerCall(jobs[winner]!.id, "lease", { worker_id: `racer-${winner}` })).status).toBe(200);
    await end(jobs[winner]!.id, epoch + 1);
    for (const job of jobs.filter((_, i) => i !== winner)) {
      await call("POST", `/v1/generations/${job.id}/cancel`, { key, body: {} });
    }
    expect((await runningJobs()).now).toMatchObject({ running_jobs: 0, queued_jobs: 0 });
  });

  it("leaves tenants without the quota unchecked", async () => {
    const report = UsageReportSchema.parse(await (await call("GET", "/v1/usage", { key: "usage" })).json());
    expect(report.quota.max_running_jobs).toBeNull();
  });
});
