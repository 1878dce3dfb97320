import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { ErrorBodySchema, JobMessageSchema, JobViewSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import {
  CANCEL_GRACE_SECONDS_DEFAULT,
  ENQUEUE_RETRY_DELAYS_MS,
  QUEUE_DEADLINE_SECONDS_DEFAULT,
  RETENTION_DAYS_DEFAULT,
  STALL_TIMEOUT_SECONDS_DEFAULT,
  TOMBSTONE_MS,
} from "../src/config/constants.ts";
import type { JobQueue } from "../src/queue/job-queue.ts";
import { call, json } from "./helpers/api.ts";
import { advanceClock, clockNow, scheduledTasks, settled, stubForKey, useManualClock } from "./helpers/job-object.ts";
import { append, finish, lease, workerCall } from "./helpers/worker.ts";

/** Creates a job whose object runs on a manual clock (alarms fire only through runDurableObjectAlarm). */
async function createOnManualClock(body: Record<string, unknown> = { prompt: "alarm me" }, queue?: JobQueue) {
  const idempotencyKey = crypto.randomUUID();
  const stub = stubForKey("tenantA", idempotencyKey);
  await useManualClock(stub);
  if (queue) {
    await runInDurableObject(stub, (instance) => {
      instance.core.queueFactory = () => queue;
    });
  }
  const response = await call("POST", "/v1/generations", { body, headers: { "Idempotency-Key": idempotencyKey } });
  expect(response.status).toBe(202);
  const view = JobViewSchema.parse(await response.json());
  await settled(stub);
  return { stub, jobId: view.id };
}

async function viewOf(jobId: string) {
  return json(await call("GET", `/v1/generations/${jobId}`));
}

/** A queue that fails while `isDown` and records what it accepted. */
function flakyQueue() {
  const queue = {
    isDown: true,
    sent: [] as unknown[],
    async send(message: unknown) {
      if (queue.isDown) throw new Error("connect ECONNREFUSED");
      queue.sent.push(message);
    },
  };
  return queue;
}

describe("the job alarm", () => {
  it("keeps ONE alarm armed at the earliest scheduled task", async () => {
    const { stub, jobId } = await createOnManualClock();
    await lease(jobId);
    const tasks = await scheduledTasks(stub);
    const now = await clockNow(stub);
    expect(tasks.stall).toBe(now + STALL_TIMEOUT_SECONDS_DEFAULT * 1_000);
    expect(tasks.expire).toBeGreaterThan(tasks.stall!);
    const alarm = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBe(Math.min(...Object.values(tasks)));
  });

  it("marks a running job stalled when heartbeats stop, and clears it on the next heartbeat", async () => {
    const { stub, jobId } = await createOnManualClock();
    const { epoch } = await lease(jobId);
    await advanceClock(stub, STALL_TIMEOUT_SECONDS_DEFAULT * 1_000 - 1_000);
    await runDurableObjectAlarm(stub);
    expect((await viewOf(jobId)).is_stalled).toBe(false);
    await advanceClock(stub, 2_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await viewOf(jobId)).toMatchObject({ status: "running", is_stalled: true });
    await workerCall(jobId, "heartbeat", { epoch });
    expect((await viewOf(jobId)).is_stalled).toBe(false);
  });

  it("expires a job no worker took before the queue deadline", async () => {
    const { stub, jobId } = await createOnManualClock();
    await advanceClock(stub, QUEUE_DEADLINE_SECONDS_DEFAULT * 1_000);
    await runDurableObjectAlarm(stub);
    expect(await viewOf(jobId)).toMatchObject({ status: "expired", error: { code: "deadline_exceeded" } });
    expect((await workerCall(jobId, "lease", { worker_id: "late" })).status).toBe(409);
  });

  it("cancels a running job whose worker ignores the cancel request", async () => {
    const { stub, jobId } = await createOnManualClock();
    const { epoch } = await lease(jobId);
    expect((await call("POST", `/v1/generations/${jobId}/cancel`)).status).toBe(202);
    await advanceClock(stub, CANCEL_GRACE_SECONDS_DEFAULT * 1_000);
    await runDurableObjectAlarm(stub);
    expect(await viewOf(jobId)).toMatchObject({ status: "canceled", finish_reason: "canceled" });
    expect((await append(jobId, epoch, 0)).status).toBe(409);
  });

  it("deletes a finished job's text after its retention period: every read answers 410, then 404", async () => {
    const { stub, jobId } = await createOnManualClock();
    const { epoch } = await lease(jobId);
    await append(jobId, epoch, 0);
    await finish(jobId, epoch);
    await advanceClock(stub, RETENTION_DAYS_DEFAULT * 86_400_000);
    await runDurableObjectAlarm(stub);
    for (const path of ["", "/text", "/text?offset=-1&live=long-poll", "/blocks", "/stream"]) {
      const response = await call("GET", `/v1/generations/${jobId}${path}`);
      expect(response.status, path).toBe(410);
      expect(ErrorBodySchema.parse(await response.json()).error).toMatchObject({
        type: "gone_error",
        code: "retention_expired",
      });
    }
    const stored = await runInDurableObject(stub, (_instance, state) => ({
      blocks: state.storage.sql.exec("SELECT COUNT(*) AS n FROM block_log").one().n,
      bytes: state.storage.sql.exec("SELECT COUNT(*) AS n FROM ds_chunks").one().n,
    }));
    expect(stored).toEqual({ blocks: 0, bytes: 0 });
    await advanceClock(stub, TOMBSTONE_MS);
    await runDurableObjectAlarm(stub);
    expect((await call("GET", `/v1/generations/${jobId}`)).status).toBe(404);
    const list = await json<{ data: { id: string }[] }>(await call("GET", "/v1/generations?limit=100"));
    expect(list.data.map((job) => job.id)).not.toContain(jobId);
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBeNull();
  });

  it("keeps a job's text for the retention_days it was created with", async () => {
    const { stub, jobId } = await createOnManualClock({ prompt: "short-lived", retention_days: 1 });
    const { epoch } = await lease(jobId);
    await finish(jobId, epoch);
    expect(await viewOf(jobId)).toMatchObject({ retention_days: 1 });
    await advanceClock(stub, 86_400_000 - 1_000);
    await runDurableObjectAlarm(stub);
    expect((await call("GET", `/v1/generations/${jobId}`)).status).toBe(200);
    await advanceClock(stub, 1_000);
    await runDurableObjectAlarm(stub);
    expect((await call("GET", `/v1/generations/${jobId}`)).status).toBe(410);
  });
});

describe("enqueue failures", () => {
  it("retries the SQS send on the alarm and fails the job after the last retry", async () => {
    const queue = flakyQueue();
    const { stub, jobId } = await createOnManualClock({ prompt: "no queue today" }, queue);
    expect((await viewOf(jobId)).status).toBe("queued");
    for (const delay of ENQUEUE_RETRY_DELAYS_MS) {
      const now = await clockNow(stub);
      expect((await scheduledTasks(stub)).enqueue).toBe(now + delay);
      await advanceClock(stub, delay);
      await runDurableObjectAlarm(stub);
    }
    expect(await viewOf(jobId)).toMatchObject({
      status: "failed",
      finish_reason: "error",
      error: { code: "enqueue_failed" },
    });
    expect((await scheduledTasks(stub)).enqueue).toBeUndefined();
  });

  it("sends the message once the queue is back", async () => {
    const queue = flakyQueue();
    const { stub, jobId } = await createOnManualClock({ prompt: "queue comes back" }, queue);
    queue.isDown = false;
    await advanceClock(stub, ENQUEUE_RETRY_DELAYS_MS[0]!);
    await runDurableObjectAlarm(stub);
    expect(queue.sent).toHaveLength(1);
    expect(JobMessageSchema.parse(queue.sent[0]).job_id).toBe(jobId);
    expect((await scheduledTasks(stub)).enqueue).toBeUndefined();
    expect((await viewOf(jobId)).status).toBe("queued");
  });
});
