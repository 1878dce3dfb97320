import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { ErrorBodySchema, JobMessageSchema, JobViewSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { CANCEL_GRACE_SECONDS_DEFAULT, QUEUE_DEADLINE_SECONDS_DEFAULT } from "../src/config/constants.ts";
import type { JobQueue } from "../src/queue/job-queue.ts";
import { call, json } from "./helpers/api.ts";
import { advanceClock, clockNow, scheduledTasks, settled, stubForKey, useManualClock } from "./helpers/job-object.ts";
import { append, finish, lease, workerCall } from "./helpers/worker.ts";

/** Deadlines (issue 17, item 4) and what a job records of its create (x-request-id, webhook status). */

async function createOnManualClock(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const idempotencyKey = crypto.randomUUID();
  const stub = stubForKey("tenantA", idempotencyKey);
  await useManualClock(stub);
  const sent: unknown[] = [];
  const queue: JobQueue = { send: async (message) => void sent.push(message) } as JobQueue;
  await runInDurableObject(stub, (instance) => {
    instance.core.queueFactory = () => queue;
  });
  const response = await call("POST", "/v1/generations", {
    body,
    headers: { "Idempotency-Key": idempotencyKey, ...headers },
  });
  expect(response.status).toBe(202);
  const view = JobViewSchema.parse(await response.json());
  await settled(stub);
  return { stub, view, sent, requestId: response.headers.get("x-request-id") };
}

async function viewOf(jobId: string) {
  return JobViewSchema.parse(await json(await call("GET", `/v1/generations/${jobId}`)));
}

describe("ttl_seconds", () => {
  it("expires a job that did not start in time (never leasable), and tells the worker in its message", async () => {
    const { stub, view, sent } = await createOnManualClock({ prompt: "start soon", ttl_seconds: 30 });
    expect(Date.parse(view.start_by) - Date.parse(view.created_at)).toBe(30_000);
    const message = JobMessageSchema.parse(sent[0]);
    expect(message.start_by).toBe(view.start_by);
    expect((await scheduledTasks(stub)).expire).toBe(Date.parse(view.start_by));
    await advanceClock(stub, 30_000);
    await runDurableObjectAlarm(stub);
    const expired = await viewOf(view.id);
    expect(expired).toMatchObject({ status: "expired", started_at: null, error: { code: "deadline_exceeded" } });
    const refused = await workerCall(view.id, "lease", { worker_id: "late-worker" });
    expect(refused.status).toBe(409);
    expect(ErrorBodySchema.parse(await refused.json()).error.code).toBe("job_terminal");
  });

  it("is capped by the edge's queue deadline, and refused out of range naming the field", async () => {
    const { view } = await createOnManualClock({ prompt: "wait long", ttl_seconds: 30 * 86_400 });
    expect(Date.parse(view.start_by) - Date.parse(view.created_at)).toBe(QUEUE_DEADLINE_SECONDS_DEFAULT * 1_000);
    const bad = await call("POST", "/v1/generations", { body: { prompt: "x", ttl_seconds: 0 } });
    expect(bad.status).toBe(400);
    expect(ErrorBodySchema.parse(await bad.json()).error.param).toBe("ttl_seconds");
  });
});

describe("timeout_seconds and Cancel-After", () => {
  it("cancels a job running past its timeout, keeping its committed blocks and saying why", async () => {
    const { stub, view } = await createOnManualClock({ prompt: "run briefly" }, { "Cancel-After": "1m30s" });
    expect(view.timeout_seconds).toBe(90);
    const { epoch } = await lease(view.id);
    expect((await append(view.id, epoch, 0)).status).toBe(200);
    const startedAt = await clockNow(stub);
    expect((await scheduledTasks(stub)).timeout).toBe(startedAt + 90_000);
    await advanceClock(stub, 90_000);
    await runDurableObjectAlarm(stub);
    // The worker learns of the cancel on its next call, stops at the block boundary, and finishes.
    const beat = await workerCall(view.id, "heartbeat", { epoch });
    expect(((await beat.json()) as { is_canceled: boolean }).is_canceled).toBe(true);
    expect((await finish(view.id, epoch, "eos")).status).toBe(200);
    const ended = await viewOf(view.id);
    expect(ended).toMatchObject({ status: "canceled", finish_reason: "canceled", error: { code: "timeout_exceeded" } });
    expect(ended.progress.blocks).toBe(1);
    expect(ended.text).toBe("block 0. ");
  });

  it("ends a timed-out job whose worker never answers when the cancel grace runs out", async () => {
    const { stub, view } = await createOnManualClock({ prompt: "hang", timeout_seconds: 5 });
    await lease(view.id);
    await advanceClock(stub, 5_000);
    await runDurableObjectAlarm(stub);
    await advanceClock(stub, CANCEL_GRACE_SECONDS_DEFAULT * 1_000);
    await runDurableObjectAlarm(stub);
    expect(await viewOf(view.id)).toMatchObject({ status: "canceled", error: { code: "timeout_exceeded" } });
  });

  it("refuses a malformed Cancel-After, and one that disagrees with timeout_seconds, naming the header", async () => {
    for (const [header, body] of [
      ["soon", { prompt: "x" }],
      ["0s", { prompt: "x" }],
      ["60", { prompt: "x", timeout_seconds: 30 }],
    ] as const) {
      const reply = await call("POST", "/v1/generations", { body, headers: { "Cancel-After": header } });
      expect(reply.status, header).toBe(400);
      expect(ErrorBodySchema.parse(await reply.json()).error.param).toBe("Cancel-After");
    }
  });
});

describe("what a job records of its create", () => {
  it("keeps the create's x-request-id in the view and the queue message", async () => {
    const { view, sent, requestId } = await createOnManualClock({ prompt: "trace me" }, { "x-request-id": "trace-77" });
    expect(requestId).toBe("trace-77");
    expect(view.request_id).toBe("trace-77");
    expect(JobMessageSchema.parse(sent[0]).request_id).toBe("trace-77");
  });

  it("shows no webhook status without a webhook, and pending before the first delivery", async () => {
    const { view } = await createOnManualClock({ prompt: "quiet" });
    expect(view.webhook_status).toBeNull();
    const hooked = await createOnManualClock({ prompt: "hooked", webhook: { url: "https://example.com/hook" } });
    expect(hooked.view.webhook_status).toEqual({ status: "pending", last_status_code: null, attempts: 0 });
  });
});
