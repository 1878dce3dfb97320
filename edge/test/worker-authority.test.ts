import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { jobCapability, legacyJobCapability } from "../src/auth/capability.ts";
import type { Env } from "../src/env.ts";
import worker from "../src/worker.ts";
import { call, createJob, json, ORIGIN } from "./helpers/api.ts";
import { append, appendStream, capabilityFor, lease, recordOf, workerCall } from "./helpers/worker.ts";

/**
 * The edge is the authority on a job (issue 21): what a worker holding the job's capability may not do.
 * Each test asserts the refusal and that the job's text, usage and status did not change.
 */

async function viewOf(jobId: string) {
  return json(await call("GET", `/v1/generations/${jobId}`));
}

/** A worker call through the edge with some bindings replaced (a rotated secret, a worker host). */
function callWith(overrides: Partial<Env>, url: string, capability: string, body: unknown) {
  const request = new Request(url, {
    method: "POST",
    headers: { Authorization: `Bearer ${capability}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return worker.fetch(request, { ...env, ...overrides }, createExecutionContext());
}

describe("appends past max_tokens", () => {
  it("refuses a block that would pass max_tokens with max_tokens_exceeded, writing nothing", async () => {
    const job = await createJob({ prompt: "In the beginning", max_tokens: 12 });
    const { epoch } = await lease(job.id);
    expect((await append(job.id, epoch, 0, "abcdefgh")).status).toBe(200);
    const over = await append(job.id, epoch, 1, "ijklmnop");
    expect(over.status).toBe(409);
    expect(ErrorBodySchema.parse(await over.json()).error.code).toBe("max_tokens_exceeded");
    const stream = await appendStream(job.id, { epoch, seq: 0 }, [recordOf(1, "ijkl"), recordOf(2, "mnop")]);
    expect(stream.status).toBe(409);
    expect(ErrorBodySchema.parse(await stream.json()).error.code).toBe("max_tokens_exceeded");
    const view = await viewOf(job.id);
    expect(view).toMatchObject({ text: "abcdefgh", progress: { blocks: 1, tokens: 8 } });
    // Up to the limit exactly is fine.
    expect((await append(job.id, epoch, 1, "ijkl", "max_tokens")).status).toBe(200);
  });
});

describe("finish", () => {
  it("computes the usage from the committed blocks, keeping the worker's forwards as a statistic", async () => {
    const job = await createJob({ prompt: "abc" });
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0, "hello");
    const usage = { prompt_tokens: 9_999, completion_tokens: 0, forwards: 42 };
    expect(await json(await workerCall(job.id, "finish", { epoch, finish_reason: "eos", usage }))).toEqual({
      status: "succeeded",
    });
    // 3 prompt bytes: at most 3 tokens plus 2 special tokens; 5 committed tokens whatever the worker says.
    expect((await viewOf(job.id)).usage).toEqual({ prompt_tokens: 5, completion_tokens: 5, forwards: 42 });
  });

  it("ends a job canceled when the worker finishes it after a cancel request (cancel wins)", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0, "kept");
    expect((await call("POST", `/v1/generations/${job.id}/cancel`)).status).toBe(202);
    const usage = { prompt_tokens: 3, completion_tokens: 4, forwards: 8 };
    expect(await json(await workerCall(job.id, "finish", { epoch, finish_reason: "eos", usage }))).toEqual({
      status: "canceled",
    });
    expect(await viewOf(job.id)).toMatchObject({ status: "canceled", finish_reason: "canceled", text: "kept" });
  });
});

describe("the capability", () => {
  it("is refused once expired, for another job, or in the legacy form, with one 401 that says nothing more", async () => {
    const job = await createJob();
    const expired = await capabilityFor(job.id, Date.now() - 1_000);
    const other = await capabilityFor((await createJob()).id);
    const legacy = await legacyJobCapability(env.WORKER_CAPABILITY_SECRET!, job.id);
    const forged = (await capabilityFor(job.id)).replace(/^v2\.\d+/, `v2.${Math.floor(Date.now() / 1_000) + 1e6}`);
    for (const capability of [expired, other, legacy, forged]) {
      const refused = await workerCall(job.id, "lease", { worker_id: "w" }, capability);
      expect(refused.status).toBe(401);
      expect(ErrorBodySchema.parse(await refused.json()).error).toMatchObject({
        type: "authentication_error",
        message: "missing or invalid job capability",
      });
    }
    expect(await viewOf(job.id)).toMatchObject({ status: "queued", started_at: null });
  });

  it("accepts the previous secret during a rotation, and the legacy form only while the rollout allows it", async () => {
    const job = await createJob();
    const url = `${ORIGIN}/internal/v1/jobs/${job.id}/lease`;
    const rotated = {
      WORKER_CAPABILITY_SECRET: "rotated-capability-secret-0123456789",
      WORKER_CAPABILITY_SECRET_PREVIOUS: env.WORKER_CAPABILITY_SECRET!,
    };
    const minted = await jobCapability(rotated.WORKER_CAPABILITY_SECRET, job.id, Date.now() + 60_000);
    expect((await callWith(rotated, url, await capabilityFor(job.id), { worker_id: "worker-1" })).status).toBe(200);
    expect((await callWith(rotated, url, minted, { worker_id: "worker-1" })).status).toBe(200);
    // Without the previous secret the old capability is refused.
    const { WORKER_CAPABILITY_SECRET } = rotated;
    expect((await callWith({ WORKER_CAPABILITY_SECRET }, url, await capabilityFor(job.id), {})).status).toBe(401);
    const legacy = await legacyJobCapability(env.WORKER_CAPABILITY_SECRET!, job.id);
    const until = new Date(Date.now() + 60_000).toISOString();
    const allowed = await callWith({ WORKER_CAPABILITY_LEGACY_UNTIL: until }, url, legacy, { worker_id: "worker-1" });
    expect(allowed.status).toBe(200);
    const past = new Date(Date.now() - 1_000).toISOString();
    expect((await callWith({ WORKER_CAPABILITY_LEGACY_UNTIL: past }, url, legacy, {})).status).toBe(401);
  });
});

describe("the worker host", () => {
  it("serves /internal/* only on WORKER_API_HOSTNAME, and nothing else there", async () => {
    const job = await createJob();
    const overrides = { WORKER_API_HOSTNAME: "workers.edge.test" };
    const capability = await capabilityFor(job.id);
    const onPublic = await callWith(overrides, `${ORIGIN}/internal/v1/jobs/${job.id}/lease`, capability, {
      worker_id: "worker-1",
    });
    expect(onPublic.status).toBe(404);
    expect(ErrorBodySchema.parse(await onPublic.json()).error.type).toBe("not_found_error");
    expect(await viewOf(job.id)).toMatchObject({ status: "queued" });
    const onWorkerHost = await callWith(
      overrides,
      `https://workers.edge.test/internal/v1/jobs/${job.id}/lease`,
      capability,
      { worker_id: "worker-1" },
    );
    expect(onWorkerHost.status).toBe(200);
    const publicOnWorkerHost = await worker.fetch(
      new Request(`https://workers.edge.test/v1/generations/${job.id}`, {
        headers: { Authorization: `Bearer ${capability}` },
      }),
      { ...env, ...overrides },
      createExecutionContext(),
    );
    expect(publicOnWorkerHost.status).toBe(404);
  });
});
