import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";
import { MAX_UNACKED_BLOCKS_PER_JOB } from "../../src/runtime/jobs/block-sink.ts";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { startWorker, type Worker } from "../../src/runtime/worker.ts";
import { FakeEdge, FakeEngine, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";
import { FAKE_WORKER_ENV, flush } from "./runner-env.ts";

const env = FAKE_WORKER_ENV;

/** A gate the fake engine's step waits on: a forward that is "in progress" until opened. */
class Gate {
  private resolve: () => void = () => {};
  promise: Promise<void> = Promise.resolve();
  close() {
    this.promise = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }
  open() {
    this.resolve();
    this.promise = Promise.resolve();
  }
}

class GatedEngine extends FakeEngine {
  readonly gate = new Gate();
  override async step() {
    await this.gate.promise;
    return super.step();
  }
}

let worker: Worker | undefined;
let engineInUse: GatedEngine | undefined;

async function setup(options: { blocks?: number; maxRunning?: number } = {}) {
  const engine = new GatedEngine(options.blocks ?? 3, options.maxRunning ?? 8);
  engineInUse = engine;
  const queue = new FakeQueue();
  const edge = new FakeEdge();
  const config = loadConfig({ env, envFile: null });
  worker = await startWorker(config, { engine, queue, edge, logger: silentLogger() });
  return { engine, queue, edge, worker };
}

describe("job runner", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(async () => {
    engineInUse?.gate.open();
    const stopped = worker?.stop(Date.now() + 5_000);
    await vi.advanceTimersByTimeAsync(1_000); // the last long poll ends
    await stopped;
    vi.useRealTimers();
    worker = undefined;
  });

  it("leases, appends every block in order, finishes, then deletes the message", async () => {
    const { queue, edge } = await setup();
    const message = queueMessage(jobMessage());
    queue.push(message);
    await flush();
    expect(edge.of("lease")).toHaveLength(1);
    expect(edge.of("append").map((call) => (call.call === "append" ? call.body.block.index : -1))).toEqual([0, 1, 2]);
    const [finish] = edge.of("finish");
    expect(finish).toMatchObject({
      body: { epoch: 1, finish_reason: "max_tokens", usage: { completion_tokens: 6, prompt_tokens: 5 } },
    });
    expect(queue.ops("delete")).toEqual([{ op: "delete", receiptHandle: message.receiptHandle }]);
  });

  it("extends the visibility and heart-beats the edge each interval while a job runs, and stops after", async () => {
    const { engine, queue, edge } = await setup();
    engine.gate.close();
    const message = queueMessage(jobMessage());
    queue.push(message);
    await flush();
    expect(queue.ops("changeVisibility")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20_000);
    await flush();
    expect(queue.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: message.receiptHandle, seconds: 60 },
    ]);
    expect(edge.of("heartbeat")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(40_000);
    await flush();
    expect(queue.ops("changeVisibility")).toHaveLength(3);
    engine.gate.open();
    await flush();
    expect(queue.ops("delete")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(120_000);
    await flush();
    expect(queue.ops("changeVisibility")).toHaveLength(3);
    expect(edge.of("heartbeat")).toHaveLength(3);
  });

  it("stops a job canceled in an append reply at once: aborts the request and deletes the message", async () => {
    const { engine, queue, edge } = await setup({ blocks: 10 });
    edge.isCanceled = true;
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.aborted).toEqual(["job_1"]);
    expect(edge.of("finish")).toMatchObject([{ body: { finish_reason: "canceled" } }]);
    expect(edge.of("append").length).toBeLessThanOrEqual(2);
    expect(queue.ops("delete")).toHaveLength(1);
  });

  it("stops a job canceled as seen by a heartbeat", async () => {
    const { engine, queue, edge } = await setup();
    engine.gate.close();
    queue.push(queueMessage(jobMessage()));
    await flush();
    edge.isCanceled = true;
    await vi.advanceTimersByTimeAsync(20_000);
    await flush();
    expect(engine.aborted).toEqual(["job_1"]);
    expect(queue.ops("delete")).toHaveLength(1);
  });

  it("resumes at the next uncommitted block with the committed token ids", async () => {
    const { engine, queue, edge } = await setup();
    edge.committedBlocks = 1;
    edge.committedTokenIds = [1, 2];
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.added[0]).toMatchObject({ committedTokenIds: [1, 2], startBlockIndex: 1 });
    expect(edge.of("append").map((call) => (call.call === "append" ? call.body.block.index : -1))).toEqual([1, 2]);
    expect(edge.of("finish")[0]).toMatchObject({ body: { usage: { completion_tokens: 6 } } });
  });

  it("finishes a job whose tokens were all committed by a worker that died before finish", async () => {
    const { engine, queue, edge } = await setup();
    edge.committedBlocks = 16;
    edge.committedTokenIds = Array.from({ length: 64 }, (_, index) => index % 200);
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.added).toHaveLength(0);
    expect(edge.of("finish")).toMatchObject([
      { body: { finish_reason: "max_tokens", usage: { completion_tokens: 64 } } },
    ]);
    expect(queue.ops("delete")).toHaveLength(1);
  });

  it("sends the finish reason with the block that ended the generation, and only with it", async () => {
    const { queue, edge } = await setup();
    queue.push(queueMessage(jobMessage()));
    await flush();
    const appends = edge.of("append").map((call) => (call.call === "append" ? call.body.finish_reason : "none"));
    expect(appends).toEqual([undefined, undefined, "max_tokens"]);
  });

  it("finishes a job whose last block ended the generation (eos) before a worker died, without the engine", async () => {
    const { engine, queue, edge } = await setup();
    edge.committedBlocks = 2;
    edge.committedTokenIds = [1, 2, 3];
    edge.finalFinishReason = "eos";
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.added).toHaveLength(0);
    expect(edge.of("append")).toHaveLength(0);
    expect(edge.of("finish")).toMatchObject([
      {
        body: {
          epoch: 1,
          finish_reason: "eos",
          usage: { completion_tokens: 3, prompt_tokens: "In the beginning".length, forwards: 0 },
        },
      },
    ]);
    expect(queue.ops("delete")).toHaveLength(1);
  });

  it("fails a malformed message on the edge when it names a job, then deletes it", async () => {
    const { queue, edge } = await setup();
    const message = queueMessage({ version: 1, job_id: "job_9", capability: "cap-0123456789abcdef", prompt: 3 });
    queue.push(message);
    await flush();
    expect(edge.of("fail")).toEqual([
      {
        call: "fail",
        jobId: "job_9",
        body: expect.objectContaining({ code: "invalid_message", is_retryable: false }),
      },
    ]);
    expect(queue.ops("delete")).toEqual([{ op: "delete", receiptHandle: message.receiptHandle }]);
  });

  it("fails an unsupported message version on the edge", async () => {
    const { queue, edge } = await setup();
    queue.push(queueMessage({ ...jobMessage(), version: 2 }));
    await flush();
    expect(edge.of("fail")[0]).toMatchObject({ body: { code: "unsupported_message_version" } });
    expect(queue.ops("delete")).toHaveLength(1);
  });

  it("deletes a message past its start deadline without leasing it (the edge expires the job)", async () => {
    const { queue, edge } = await setup();
    queue.push(queueMessage(jobMessage({ start_by: new Date(Date.now() - 1_000).toISOString() })));
    await flush();
    expect(edge.calls).toHaveLength(0);
    expect(queue.ops("delete")).toHaveLength(1);
    queue.push(queueMessage(jobMessage({ job_id: "job_2", start_by: new Date(Date.now() + 60_000).toISOString() })));
    await flush();
    expect(edge.of("lease")).toHaveLength(1);
  });

  it("deletes a body that names no job (nobody to tell)", async () => {
    const { queue, edge } = await setup();
    queue.push(queueMessage("not json"));
    await flush();
    expect(edge.calls).toHaveLength(0);
    expect(queue.ops("delete")).toHaveLength(1);
  });

  it("drops a job whose lease was taken over without touching its message", async () => {
    const { engine, queue, edge } = await setup();
    edge.appendError = () => new EdgeCallError("stale", { status: 409, code: "stale_epoch", isRetryable: false });
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.aborted).toEqual(["job_1"]);
    expect(queue.ops("delete")).toHaveLength(0);
    expect(queue.ops("changeVisibility")).toHaveLength(0);
    expect(worker?.runner.heldJobs).toBe(0);
  });

  it("waits out a live lease once, then leaves the message for the lease's remaining term, never deleting it", async () => {
    const { engine, queue, edge } = await setup();
    edge.leaseError = new EdgeCallError("held", {
      status: 409,
      code: "lease_held",
      isRetryable: false,
      retryAfterSeconds: 7,
    });
    const message = queueMessage(jobMessage(), { receiveCount: 2 });
    queue.push(message);
    await flush();
    // The first refusal is waited out in place (no receive spent); the lease is still held after the wait.
    expect(edge.of("lease")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(7_250);
    await flush();
    expect(edge.of("lease")).toHaveLength(2);
    expect(queue.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: message.receiptHandle, seconds: 7 },
    ]);
    expect(queue.ops("delete")).toHaveLength(0);
    expect(edge.of("fail")).toHaveLength(0);
    expect(engine.added).toHaveLength(0);
    expect(worker?.runner.heldJobs).toBe(0);
  });

  it("retries a transient failure later, and fails the job on the edge at the last receive", async () => {
    const { queue, edge } = await setup();
    edge.leaseError = new EdgeCallError("edge down", { isRetryable: true });
    const first = queueMessage(jobMessage(), { receiveCount: 1 });
    queue.push(first);
    await flush();
    expect(queue.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: first.receiptHandle, seconds: 2 },
    ]);
    expect(queue.ops("delete")).toHaveLength(0);
    expect(edge.of("fail")[0]).toMatchObject({ body: { is_retryable: true } });

    const last = queueMessage(jobMessage(), { receiveCount: 3 }); // FakeQueue's RedrivePolicy: maxReceiveCount 3
    queue.push(last);
    await flush();
    expect(edge.of("fail")[1]).toMatchObject({ body: { is_retryable: false, code: "worker_error" } });
    expect(queue.ops("delete")).toEqual([{ op: "delete", receiptHandle: last.receiptHandle }]);
  });

  it("leaves the message to the DLQ when the edge cannot be told at the last receive", async () => {
    const { queue, edge } = await setup();
    edge.leaseError = new EdgeCallError("edge down", { isRetryable: true });
    edge.failError = new EdgeCallError("edge down", { isRetryable: true });
    queue.push(queueMessage(jobMessage(), { receiveCount: 3 }));
    await flush();
    expect(queue.ops("delete")).toHaveLength(0);
    expect(queue.ops("changeVisibility")).toHaveLength(0);
  });

  it("adopts a redelivered message of a job it is already running", async () => {
    const { engine, queue, edge } = await setup();
    engine.gate.close();
    queue.push(queueMessage(jobMessage()));
    await flush();
    const again = queueMessage(jobMessage(), { receiveCount: 2 });
    queue.push(again);
    await flush();
    expect(edge.of("lease")).toHaveLength(1);
    engine.gate.open();
    await flush();
    expect(queue.ops("delete")).toEqual([{ op: "delete", receiptHandle: again.receiptHandle }]);
  });

  it("on drain appends the block in flight, then releases the message; waiting jobs are released at once", async () => {
    const { engine, queue, edge } = await setup({ blocks: 10, maxRunning: 1 });
    engine.gate.close();
    const running = queueMessage(jobMessage({ job_id: "job_a" }));
    const waiting = queueMessage(jobMessage({ job_id: "job_b" }));
    queue.push(running, waiting);
    await flush();
    const stopped = worker!.stop(Date.now() + 20_000);
    await flush();
    // Both slots are held, so no long poll is pending and nothing holds the releases back.
    expect(queue.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: waiting.receiptHandle, seconds: 0 },
    ]);
    engine.gate.open();
    await flush();
    await expect(stopped).resolves.toBe(true);
    expect(edge.of("append")).toMatchObject([{ jobId: "job_a", body: { block: { index: 0 } } }]);
    expect(queue.ops("changeVisibility")).toContainEqual({
      op: "changeVisibility",
      receiptHandle: running.receiptHandle,
      seconds: 0,
    });
    expect(queue.ops("delete")).toHaveLength(0);
    expect(engine.aborted.sort()).toEqual(["job_a", "job_b"]);
    // Each lease is given back on the edge first, so the next worker need not wait out the lease term.
    expect(
      edge
        .of("release")
        .map((call) => call.jobId)
        .sort(),
    ).toEqual(["job_a", "job_b"]);
  });

  it("on drain releases only after its own pending long poll ended (that poll would take the message back)", async () => {
    const { engine, queue } = await setup({ blocks: 10 });
    engine.gate.close();
    const running = queueMessage(jobMessage({ job_id: "job_a" }));
    queue.push(running);
    await flush(); // one slot is free: a long poll is pending
    const stopped = worker!.stop(Date.now() + 20_000);
    engine.gate.open();
    await flush();
    expect(queue.ops("changeVisibility")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    await flush();
    expect(queue.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: running.receiptHandle, seconds: 0 },
    ]);
    await expect(stopped).resolves.toBe(true);
  });

  it("hands a job over as a continuation before SQS's 12 h visibility cap", async () => {
    const { engine, queue } = await setup();
    engine.gate.close();
    const message = queueMessage(jobMessage());
    queue.push(message);
    await flush();
    // Cap 43200 s - visibility 60 s - margin 900 s = 42240 s; heartbeats every 20 s.
    await vi.advanceTimersByTimeAsync(42_220_000);
    await flush();
    expect(queue.ops("send")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20_000);
    await flush();
    const [sent] = queue.ops("send");
    expect(sent?.op === "send" && JSON.parse(sent.body)).toMatchObject({ job_id: "job_1", continuation: 1 });
    expect(queue.ops("delete")).toEqual([{ op: "delete", receiptHandle: message.receiptHandle }]);
    expect(engine.aborted).toEqual(["job_1"]);
  });

  it("keeps generating while the edge is slow, and finishes once every block is acknowledged", async () => {
    const { engine, queue, edge } = await setup({ blocks: 20 });
    let releaseAppends: () => void = () => {};
    edge.appendHold = new Promise((resolve) => {
      releaseAppends = resolve;
    });
    queue.push(queueMessage(jobMessage()));
    await flush(200);
    expect(engine.forwards).toBe(20);
    expect(edge.of("append")).toHaveLength(20);
    expect(edge.of("finish")).toHaveLength(0);
    releaseAppends();
    edge.appendHold = undefined;
    await flush(200);
    expect(edge.of("finish")).toHaveLength(1);
  });

  it("never lets one job's slow edge hold back another job's steps", async () => {
    const { queue, edge } = await setup({ blocks: 12 });
    let releaseSlow: () => void = () => {};
    edge.appendHoldOf.set("job_slow", new Promise((resolve) => (releaseSlow = resolve)));
    queue.push(queueMessage(jobMessage({ job_id: "job_slow" })), queueMessage(jobMessage({ job_id: "job_fast" })));
    await flush(300);
    expect(edge.of("finish").map((call) => call.jobId)).toEqual(["job_fast"]);
    releaseSlow();
    await flush(300);
    expect(edge.of("finish").map((call) => call.jobId)).toEqual(["job_fast", "job_slow"]);
  });

  it(`pauses a job more than ${MAX_UNACKED_BLOCKS_PER_JOB} blocks ahead of its edge, then resumes it from its blocks`, async () => {
    const blocks = MAX_UNACKED_BLOCKS_PER_JOB + 40;
    const { engine, queue, edge } = await setup({ blocks });
    let releaseAppends: () => void = () => {};
    edge.appendHold = new Promise((resolve) => {
      releaseAppends = resolve;
    });
    queue.push(queueMessage(jobMessage({ params: { ...jobMessage().params, max_tokens: 4 * blocks } })));
    await flush(2_000);
    expect(engine.aborted).toEqual(["job_1"]);
    const paused = MAX_UNACKED_BLOCKS_PER_JOB + 1;
    expect(edge.of("append")).toHaveLength(paused);
    releaseAppends();
    edge.appendHold = undefined;
    await flush(2_000);
    expect(engine.added[1]).toMatchObject({ requestId: "job_1", startBlockIndex: paused });
    expect(engine.added[1]?.committedTokenIds).toHaveLength(2 * paused);
    const indexes = edge.of("append").map((call) => (call.call === "append" ? call.body.block.index : -1));
    expect(indexes).toEqual(Array.from({ length: blocks }, (_, index) => index));
    expect(edge.of("finish")).toHaveLength(1);
  });

  it("retries a job the engine ended with an error, without appending the broken block", async () => {
    const { engine, queue, edge } = await setup();
    engine.errorAtIndex = 1;
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(edge.of("append")).toHaveLength(1);
    expect(edge.of("finish")).toHaveLength(0);
    expect(edge.of("fail")).toMatchObject([{ body: { is_retryable: true } }]);
    expect(queue.ops("changeVisibility")).toMatchObject([{ seconds: 2 }]);
  });

  it("retries every job of a failed engine step", async () => {
    const { engine, queue } = await setup();
    engine.stepError = new Error("CUDA failure");
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.aborted).toEqual(["job_1"]);
    expect(queue.ops("changeVisibility")).toMatchObject([{ seconds: 2 }]);
  });
});
