/**
 * The job runner on fakes when work must move or wait: a drain (the block in flight, then release, after the
 * last long poll), the 12 h continuation handover, a slow edge (per-job backpressure) and engine failures.
 */
import { describe, expect, it, vi } from "vitest";
import { MAX_UNACKED_BLOCKS_PER_JOB } from "../../src/runtime/jobs/block-sink.ts";
import { jobMessage, queueMessage } from "./fakes.ts";
import { flush } from "./runner-env.ts";
import { useRunnerHarness } from "./runner-harness.ts";

describe("job runner: drain, handover, backpressure, engine failures", () => {
  const setup = useRunnerHarness();

  it("on drain appends the block in flight, then releases the message; waiting jobs are released at once", async () => {
    const { engine, queue, edge, worker } = await setup({ blocks: 10, maxRunning: 1 });
    engine.gate.close();
    const running = queueMessage(jobMessage({ job_id: "job_a" }));
    const waiting = queueMessage(jobMessage({ job_id: "job_b" }));
    queue.push(running, waiting);
    await flush();
    const stopped = worker.stop(Date.now() + 20_000);
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
    const { engine, queue, worker } = await setup({ blocks: 10 });
    engine.gate.close();
    const running = queueMessage(jobMessage({ job_id: "job_a" }));
    queue.push(running);
    await flush(); // one slot is free: a long poll is pending
    const stopped = worker.stop(Date.now() + 20_000);
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
