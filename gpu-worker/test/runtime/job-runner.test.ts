/**
 * The job runner on fakes, one message at a time: leases and appends, heartbeats, cancels, resumes and
 * finishes, invalid messages, held and lost leases, retries and the last receive, redelivery. Drain,
 * handover, backpressure and engine failures: job-runner-drain.test.ts.
 */
import { describe, expect, it, vi } from "vitest";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";
import { jobMessage, queueMessage } from "./fakes.ts";
import { flush } from "./runner-env.ts";
import { useRunnerHarness } from "./runner-harness.ts";

describe("job runner", () => {
  const setup = useRunnerHarness();

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
    const { engine, queue, edge, worker } = await setup();
    edge.appendError = () => new EdgeCallError("stale", { status: 409, code: "stale_epoch", isRetryable: false });
    queue.push(queueMessage(jobMessage()));
    await flush();
    expect(engine.aborted).toEqual(["job_1"]);
    expect(queue.ops("delete")).toHaveLength(0);
    expect(queue.ops("changeVisibility")).toHaveLength(0);
    expect(worker.runner.heldJobs).toBe(0);
  });

  it("waits out a live lease once, then leaves the message for the lease's remaining term, never deleting it", async () => {
    const { engine, queue, edge, worker } = await setup();
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
    expect(worker.runner.heldJobs).toBe(0);
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
});
