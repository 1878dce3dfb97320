import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";
import { tenantLimitDelaySeconds } from "../../src/runtime/jobs/tenant-limit.ts";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { startWorker, type Worker } from "../../src/runtime/worker.ts";
import { FakeEdge, FakeEngine, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";
import { FAKE_WORKER_ENV, flush } from "./runner-env.ts";

/** A lease refused as `tenant_running_limit` (the tenant's max_running_jobs): re-queued delayed, never deferred. */

const env = FAKE_WORKER_ENV;

let worker: Worker | undefined;

async function setup(retryAfterSeconds: number | undefined) {
  const engine = new FakeEngine();
  const queue = new FakeQueue();
  const edge = new FakeEdge();
  edge.leaseError = new EdgeCallError("tenant at its limit", {
    status: 409,
    code: "tenant_running_limit",
    isRetryable: false,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });
  worker = await startWorker(loadConfig({ env, envFile: null }), { engine, queue, edge, logger: silentLogger() });
  return { engine, queue, edge, worker };
}

describe("tenant_running_limit", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(async () => {
    const stopped = worker?.stop(Date.now() + 5_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await stopped;
    vi.useRealTimers();
    worker = undefined;
  });

  it("re-sends the message to its own queue delayed by Retry-After, then deletes it, even at the last receive", async () => {
    const { engine, queue, edge } = await setup(5);
    // The fake queue's maxReceiveCount is 3: a deferral now would send the job to the DLQ.
    const message = queueMessage(jobMessage(), { receiveCount: 3, queueUrl: "http://sqs.local/000000000000/jobs-low" });
    queue.push(message);
    await flush();
    expect(edge.of("lease")).toHaveLength(1);
    expect(queue.calls.filter((call) => call.op !== "receive")).toEqual([
      { op: "send", body: message.body, queueUrl: message.queueUrl, delaySeconds: 5 },
      { op: "delete", receiptHandle: message.receiptHandle },
    ]);
    expect(edge.of("fail")).toHaveLength(0);
    expect(edge.of("release")).toHaveLength(0);
    expect(engine.added).toHaveLength(0);
    expect(worker?.runner.heldJobs).toBe(0);
  });

  it("defers the message by the same delay when the send fails, and never deletes it then", async () => {
    const { queue, edge } = await setup(7);
    queue.sendError = new Error("SQS send failed");
    const message = queueMessage(jobMessage());
    queue.push(message);
    await flush();
    expect(queue.calls.filter((call) => call.op !== "receive")).toEqual([
      { op: "changeVisibility", receiptHandle: message.receiptHandle, seconds: 7 },
    ]);
    expect(edge.of("fail")).toHaveLength(0);
    expect(worker?.runner.heldJobs).toBe(0);
  });

  it("bounds the delay to SQS's DelaySeconds range", () => {
    expect(tenantLimitDelaySeconds(undefined)).toBe(5);
    expect(tenantLimitDelaySeconds(0)).toBe(1);
    expect(tenantLimitDelaySeconds(2.2)).toBe(3);
    expect(tenantLimitDelaySeconds(3_600)).toBe(900);
  });
});
