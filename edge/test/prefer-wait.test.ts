import { type JobView, JobViewSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, json } from "./helpers/api.ts";
import { stubForKey } from "./helpers/job-object.ts";
import { append, finish, lease } from "./helpers/worker.ts";

describe("Prefer: wait=N", () => {
  it("holds the create until the job finishes and answers 200 with the text", async () => {
    const idempotencyKey = crypto.randomUUID();
    const creating = call("POST", "/v1/generations", {
      body: { prompt: "wait for me" },
      headers: { Prefer: "wait=20", "Idempotency-Key": idempotencyKey },
    });
    // The job id is known before the create returns: it is derived from the tenant and the key.
    const jobId = `gen_${stubForKey("tenantA", idempotencyKey).id.toString()}`;
    let leased: { epoch: number } | null = null;
    while (leased === null) {
      leased = await lease(jobId).catch(() => null);
    }
    await append(jobId, leased.epoch, 0, "done quickly");
    await finish(jobId, leased.epoch);
    const response = await creating;
    expect(response.status).toBe(200);
    expect(response.headers.get("Preference-Applied")).toBe("wait=20");
    expect(JobViewSchema.parse(await response.json())).toMatchObject({ status: "succeeded", text: "done quickly" });
  });

  it("answers 202 with the current state once the wait runs out", async () => {
    const started = Date.now();
    const response = await call("POST", "/v1/generations", { body: { prompt: "slow" }, headers: { Prefer: "wait=1" } });
    expect(response.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect((await json<JobView>(response)).status).toBe("queued");
  });
});
