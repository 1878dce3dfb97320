import { BlockPageSchema, JobListPageSchema, JobViewSchema, WebhookDeliveryPageSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { PUBLIC_BODY_MAX_BYTES } from "../src/config/constants.ts";
import { call, createJob, expectError, json } from "./helpers/api.ts";
import { settled, stubOfJob } from "./helpers/job-object.ts";
import { append, finish, lease } from "./helpers/worker.ts";

describe("POST /v1/generations", () => {
  it("answers 202 with the job, its urls and Location, defaults applied and the seed resolved", async () => {
    const response = await call("POST", "/v1/generations", {
      body: { prompt: "Once upon a time", metadata: { order: "42" } },
    });
    expect(response.status).toBe(202);
    const view = JobViewSchema.parse(await response.json());
    expect(view.id).toMatch(/^gen_[0-9a-f]{64}$/);
    expect(view).toMatchObject({
      status: "queued",
      model: "kjv-bd3lm-b16",
      text: "",
      progress: { blocks: 0, tokens: 0 },
      metadata: { order: "42" },
      is_stalled: false,
      finish_reason: null,
      started_at: null,
    });
    expect(view.params).toMatchObject({ max_tokens: 1024, temperature: 1, top_p: 0.9, strategy: "first_hitting" });
    expect(view.params.seed).toBeGreaterThanOrEqual(0);
    expect(view.urls.self).toBe(`https://edge.test/v1/generations/${view.id}`);
    expect(view.urls.stream).toBe(`${view.urls.self}/stream`);
    expect(response.headers.get("Location")).toBe(view.urls.self);
  });

  it.each([
    [{}, "prompt"],
    [{ prompt: "   " }, "prompt"],
    [{ prompt: "x".repeat(40_000) }, "prompt"],
    [{ prompt: "a", max_tokens: 0 }, "max_tokens"],
    [{ prompt: "a", max_tokens: 1.5 }, "max_tokens"],
    [{ prompt: "a", temperature: 3 }, "temperature"],
    [{ prompt: "a", top_p: 0 }, "top_p"],
    [{ prompt: "a", strategy: "greedy" }, "strategy"],
    [{ prompt: "a", stop: ["", "x"] }, "stop.0"],
    [{ prompt: "a", seed: -1 }, "seed"],
    [{ prompt: "a", model: "Not A Slug" }, "model"],
    [{ prompt: "a", metadata: { k: 1 } }, "metadata.k"],
    [{ prompt: "a", promt: "typo" }, "promt"],
    [
      { prompt: "a", webhook: { url: "https://hooks.example.com", events: ["generation.exploded"] } },
      "webhook.events.0",
    ],
    [{ prompt: "a", webhook: { url: "https://hooks.example.com", events: [] } }, "webhook.events"],
  ])("refuses %j with a 400 naming %s", async (body, param) => {
    await expectError(await call("POST", "/v1/generations", { body }), 400, "invalid_request_error", param);
  });

  it.each([
    "https://127.0.0.2/hook",
    "https://10.0.0.8/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://100.64.1.1/hook",
    "https://user:pw@hooks.example.com/",
    "https://metadata.google.internal/",
    "ftp://hooks.example.com/",
  ])("refuses the webhook url %s", async (url) => {
    const response = await call("POST", "/v1/generations", { body: { prompt: "a", webhook: { url } } });
    await expectError(response, 400, "invalid_request_error", "webhook.url");
  });

  it("refuses bodies that are not JSON, not application/json, or too large", async () => {
    await expectError(await call("POST", "/v1/generations", { body: "{not json" }), 400, "invalid_request_error");
    await expectError(
      await call("POST", "/v1/generations", { body: "prompt=a", headers: { "Content-Type": "text/plain" } }),
      415,
      "unsupported_media_type_error",
      "Content-Type",
    );
    const huge = JSON.stringify({ prompt: "a", metadata: { k: "x".repeat(PUBLIC_BODY_MAX_BYTES) } });
    await expectError(await call("POST", "/v1/generations", { body: huge }), 413, "payload_too_large_error");
    await expectError(await call("POST", "/v1/generations", { body: "[1,2]" }), 400, "invalid_request_error");
  });

  it("refuses a missing or unknown API key with 401 and a Bearer challenge", async () => {
    const missing = await call("POST", "/v1/generations", { key: null, body: { prompt: "a" } });
    await expectError(missing, 401, "authentication_error", "Authorization");
    expect(missing.headers.get("WWW-Authenticate")).toContain("Bearer");
    const wrong = await call("GET", "/v1/generations", { key: null, headers: { Authorization: "Bearer nope" } });
    await expectError(wrong, 401, "authentication_error");
    const basic = await call("GET", "/v1/generations", { key: null, headers: { Authorization: "Basic YTpi" } });
    await expectError(basic, 401, "authentication_error");
  });
});

describe("GET /v1/generations/:id", () => {
  it("returns the job to its tenant and 404 to everyone else", async () => {
    const job = await createJob();
    expect((await call("GET", `/v1/generations/${job.id}`)).status).toBe(200);
    await expectError(await call("GET", `/v1/generations/${job.id}`, { key: "tenantB" }), 404, "not_found_error");
    for (const action of ["blocks", "stream", "deliveries"]) {
      const other = await call("GET", `/v1/generations/${job.id}/${action}`, { key: "tenantB" });
      await expectError(other, 404, "not_found_error");
    }
    await expectError(
      await call("POST", `/v1/generations/${job.id}/cancel`, { key: "tenantB" }),
      404,
      "not_found_error",
    );
    expect((await json(await call("GET", `/v1/generations/${job.id}`))).status).toBe("queued");
  });

  it.each(["gen_nope", `gen_${"0".repeat(64)}`, `gen_${"f".repeat(64)}`, "%00", "a".repeat(300)])(
    "answers 404 for the id %s",
    async (id) => {
      await expectError(await call("GET", `/v1/generations/${id}`), 404, "not_found_error");
    },
  );
});

describe("GET /v1/generations/:id/blocks", () => {
  it("pages blocks after an index", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    for (let index = 0; index < 5; index += 1) await append(job.id, epoch, index);
    const first = BlockPageSchema.parse(await json(await call("GET", `/v1/generations/${job.id}/blocks?limit=2`)));
    expect(first.data.map((block) => block.index)).toEqual([0, 1]);
    expect(first).toMatchObject({ has_more: true, next_after: 1 });
    const last = BlockPageSchema.parse(
      await json(await call("GET", `/v1/generations/${job.id}/blocks?after=${first.next_after}&limit=10`)),
    );
    expect(last.data.map((block) => block.index)).toEqual([2, 3, 4]);
    expect(last).toMatchObject({ has_more: false, next_after: 4 });
    const empty = BlockPageSchema.parse(await json(await call("GET", `/v1/generations/${job.id}/blocks?after=4`)));
    expect(empty).toEqual({ object: "list", data: [], has_more: false, next_after: null });
  });

  it.each([
    ["after=-2", "after"],
    ["after=x", "after"],
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=1e3", "limit"],
  ])("refuses ?%s", async (query, param) => {
    const job = await createJob();
    await expectError(
      await call("GET", `/v1/generations/${job.id}/blocks?${query}`),
      400,
      "invalid_request_error",
      param,
    );
  });
});

describe("POST /v1/generations/:id/cancel", () => {
  it("cancels a queued job at once and stays idempotent", async () => {
    const job = await createJob();
    const first = await call("POST", `/v1/generations/${job.id}/cancel`);
    expect(first.status).toBe(200);
    expect(JobViewSchema.parse(await first.json())).toMatchObject({ status: "canceled", finish_reason: "canceled" });
    const again = await call("POST", `/v1/generations/${job.id}/cancel`);
    expect(again.status).toBe(200);
    expect((await json(again)).status).toBe("canceled");
  });

  it("asks a running job's worker to stop through its next reply", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    expect(await json(await append(job.id, epoch, 0))).toMatchObject({ is_canceled: false });
    const pending = await call("POST", `/v1/generations/${job.id}/cancel`);
    expect(pending.status).toBe(202);
    expect((await json(pending)).status).toBe("running");
    expect(await json(await append(job.id, epoch, 1))).toMatchObject({ result: "appended", is_canceled: true });
    expect((await json(await finish(job.id, epoch, "canceled"))).status).toBe("canceled");
    const view = await json(await call("GET", `/v1/generations/${job.id}`));
    expect(view).toMatchObject({ status: "canceled", finish_reason: "canceled", text: "block 0. block 1. " });
    expect((await call("POST", `/v1/generations/${job.id}/cancel`)).status).toBe(200);
  });

  it("leaves a finished job as it is", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    await finish(job.id, epoch);
    const response = await call("POST", `/v1/generations/${job.id}/cancel`);
    expect(response.status).toBe(200);
    expect((await json(response)).status).toBe("succeeded");
  });
});

describe("GET /v1/generations", () => {
  it("lists the tenant's jobs newest first with a cursor and a status filter", async () => {
    const jobs = [];
    for (let i = 0; i < 5; i += 1) jobs.push(await createJob({ prompt: `list ${i}` }, { key: "tenantB" }));
    // The index is updated right after each create's answer; wait for that instead of racing it.
    for (const job of jobs) await settled(stubOfJob(job.id));
    await call("POST", `/v1/generations/${jobs[1]!.id}/cancel`, { key: "tenantB" });
    const first = JobListPageSchema.parse(await json(await call("GET", "/v1/generations?limit=3", { key: "tenantB" })));
    expect(first.data.map((job) => job.id)).toEqual([jobs[4]!.id, jobs[3]!.id, jobs[2]!.id]);
    expect(first.has_more).toBe(true);
    expect(first.data[0]).not.toHaveProperty("text");
    const second = JobListPageSchema.parse(
      await json(await call("GET", `/v1/generations?limit=3&cursor=${first.next_cursor}`, { key: "tenantB" })),
    );
    expect(second.data.map((job) => job.id)).toEqual([jobs[1]!.id, jobs[0]!.id]);
    expect(second).toMatchObject({ has_more: false, next_cursor: null });
    const canceled = JobListPageSchema.parse(
      await json(await call("GET", "/v1/generations?status=canceled", { key: "tenantB" })),
    );
    expect(canceled.data.map((job) => job.id)).toEqual([jobs[1]!.id]);
    const mine = JobListPageSchema.parse(await json(await call("GET", "/v1/generations?limit=100")));
    expect(mine.data.map((job) => job.id)).not.toContain(jobs[0]!.id);
  });

  it.each([
    ["status=done", "status"],
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["cursor=abc", "cursor"],
  ])("refuses ?%s", async (query, param) => {
    await expectError(await call("GET", `/v1/generations?${query}`), 400, "invalid_request_error", param);
  });
});

describe("GET /v1/generations/:id/deliveries", () => {
  it("is empty for a job without a webhook", async () => {
    const job = await createJob();
    const page = WebhookDeliveryPageSchema.parse(await json(await call("GET", `/v1/generations/${job.id}/deliveries`)));
    expect(page).toEqual({ object: "list", data: [] });
  });
});
