import { describe, expect, it } from "vitest";
import {
  DLQ_RETRY_VISIBILITY_SECONDS,
  DLQ_UNREADABLE_VISIBILITY_SECONDS,
  handleDeadLetter,
} from "../../src/runtime/dlq/dlq-watcher.ts";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { createWorkerMetrics } from "../../src/runtime/observability/metrics.ts";
import { FakeEdge, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";

function setup() {
  const dlq = new FakeQueue();
  const edge = new FakeEdge();
  const options = {
    dlq,
    edge,
    workerId: "w1",
    receiveWaitSeconds: 20,
    logger: silentLogger(),
    metrics: createWorkerMetrics({ maxBatchSize: 1 }),
  };
  return { dlq, edge, options };
}

describe("DLQ watcher", () => {
  it("leases the dead-lettered job for a fresh epoch, fails it as dead_lettered, then deletes the dead letter", async () => {
    const { dlq, edge, options } = setup();
    edge.epoch = 4;
    const message = queueMessage(jobMessage(), { receiveCount: 6 });
    await handleDeadLetter(options, message);
    expect(edge.of("lease")).toHaveLength(1);
    expect(edge.of("fail")).toMatchObject([{ body: { epoch: 4, code: "dead_lettered", is_retryable: false } }]);
    expect(dlq.ops("delete")).toEqual([{ op: "delete", receiptHandle: message.receiptHandle }]);
  });

  it("deletes the dead letter of a job that already ended", async () => {
    const { dlq, edge, options } = setup();
    edge.leaseError = new EdgeCallError("terminal", { status: 409, code: "job_terminal", isRetryable: false });
    await handleDeadLetter(options, queueMessage(jobMessage()));
    expect(edge.of("fail")).toHaveLength(0);
    expect(dlq.ops("delete")).toHaveLength(1);
  });

  it("keeps the dead letter, hidden for a while, when the edge cannot be told", async () => {
    const { dlq, edge, options } = setup();
    edge.leaseError = new EdgeCallError("edge down", { isRetryable: true });
    const message = queueMessage(jobMessage());
    await handleDeadLetter(options, message);
    expect(dlq.ops("delete")).toHaveLength(0);
    expect(dlq.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: message.receiptHandle, seconds: DLQ_RETRY_VISIBILITY_SECONDS },
    ]);
  });

  it("looks at a dead letter again when the job's live lease would have lapsed, failing nothing", async () => {
    const { dlq, edge, options } = setup();
    edge.leaseError = new EdgeCallError("held", {
      status: 409,
      code: "lease_held",
      isRetryable: false,
      retryAfterSeconds: 6,
    });
    const message = queueMessage(jobMessage());
    await handleDeadLetter(options, message);
    expect(edge.of("fail")).toHaveLength(0);
    expect(dlq.ops("delete")).toHaveLength(0);
    expect(dlq.ops("changeVisibility")).toEqual([
      { op: "changeVisibility", receiptHandle: message.receiptHandle, seconds: 6 },
    ]);
  });

  it("leaves a dead letter that names no job for an operator", async () => {
    const { dlq, edge, options } = setup();
    await handleDeadLetter(options, queueMessage("garbage"));
    expect(edge.calls).toHaveLength(0);
    expect(dlq.ops("delete")).toHaveLength(0);
    expect(dlq.ops("changeVisibility")).toMatchObject([{ seconds: DLQ_UNREADABLE_VISIBILITY_SECONDS }]);
  });
});
