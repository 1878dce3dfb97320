import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { queueWaitSeconds } from "../../src/runtime/observability/metrics.ts";
import { startWorker, type Worker } from "../../src/runtime/worker.ts";
import { FakeEdge, FakeEngine, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";
import { FAKE_WORKER_ENV, flush } from "./runner-env.ts";

/**
 * `bd3_worker_queue_wait_seconds` measures from the edge's enqueue (`enqueued_at`, in the body) to the receive
 * that starts the job, once per job: a message the worker re-sent (tenant at its max_running_jobs, a
 * continuation) has a new SentTimestamp and must not restart the wait nor count the job twice.
 */

let worker: Worker | undefined;

async function setup() {
  const queue = new FakeQueue();
  const edge = new FakeEdge();
  const config = loadConfig({ env: FAKE_WORKER_ENV, envFile: null });
  worker = await startWorker(config, { engine: new FakeEngine(), queue, edge, logger: silentLogger() });
  return { queue, edge, worker };
}

/** The histogram's observation count and sum. */
async function observed(of: Worker): Promise<{ count: number; sum: number }> {
  const { values } = await of.metrics.queueWait.get();
  const value = (suffix: string) => values.find((entry) => entry.metricName?.endsWith(suffix))?.value ?? 0;
  return { count: value("_count"), sum: value("_sum") };
}

const TENANT_LIMITED = new EdgeCallError("tenant at its limit", {
  status: 409,
  code: "tenant_running_limit",
  isRetryable: false,
  retryAfterSeconds: 5,
});

describe("queue wait", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    vi.setSystemTime(100_000);
  });
  afterEach(async () => {
    const stopped = worker?.stop(Date.now() + 5_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await stopped;
    vi.useRealTimers();
    worker = undefined;
  });

  it("is the time from enqueued_at to the receive, never negative across clocks", () => {
    const job = { enqueued_at: new Date(40_000).toISOString() };
    expect(queueWaitSeconds(job, 106_000)).toBe(66);
    expect(queueWaitSeconds(job, 39_000)).toBe(0);
  });

  it("counts a job once, at its first lease, from the edge's enqueue through a tenant-limit re-send", async () => {
    const { queue, edge } = await setup();
    edge.leaseError = TENANT_LIMITED;
    const body = jobMessage({ enqueued_at: new Date(40_000).toISOString() });
    queue.push(queueMessage(body, { sentAtMs: 40_000, receivedAtMs: 100_000 }));
    await flush();
    const resent = queue.ops("send")[0];
    expect(resent).toMatchObject({ op: "send", delaySeconds: 5 });
    expect(await observed(worker!)).toEqual({ count: 0, sum: 0 }); // turned back: not started, not counted

    // The re-sent message: a new SentTimestamp (and receive count 1), the edge's enqueued_at in its body.
    edge.leaseError = undefined;
    const resentBody = resent?.op === "send" ? resent.body : "";
    expect(JSON.parse(resentBody).enqueued_at).toBe(body.enqueued_at);
    queue.push(queueMessage(resentBody, { sentAtMs: 105_000, receivedAtMs: 106_000 }));
    await flush();
    expect(edge.of("lease")).toHaveLength(2);
    expect(await observed(worker!)).toEqual({ count: 1, sum: 66 }); // 106 s - 40 s, not 106 s - 105 s
  });

  it("does not count a job leased before (a continuation or a redelivery: lease epoch above 1)", async () => {
    const { queue, edge } = await setup();
    edge.epoch = 2;
    const body = jobMessage({ job_id: "job_2", continuation: 1, enqueued_at: new Date(0).toISOString() });
    queue.push(queueMessage(body, { sentAtMs: 99_000, receivedAtMs: 100_000 }));
    await flush();
    expect(edge.of("lease")).toHaveLength(1);
    expect((await observed(worker!)).count).toBe(0);
  });
});
