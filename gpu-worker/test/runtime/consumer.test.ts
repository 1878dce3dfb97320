import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Consumer } from "../../src/runtime/consumer/consumer.ts";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { createWorkerMetrics } from "../../src/runtime/observability/metrics.ts";
import type { QueueMessage } from "../../src/runtime/queue/job-queue.ts";
import { FakeQueue, queueMessage } from "./fakes.ts";

/** Slots the test opens and closes by hand. */
class Slots {
  free = 2;
  private waiters: (() => void)[] = [];
  freeSlots() {
    return this.free;
  }
  waitForFreeSlot(signal?: AbortSignal) {
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  open(count: number) {
    this.free += count;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

function setup() {
  const queue = new FakeQueue();
  const slots = new Slots();
  const handled: QueueMessage[] = [];
  let finishHandler: () => void = () => {};
  const handleMessage = vi.fn(async (message: QueueMessage) => {
    handled.push(message);
    slots.free--;
    await new Promise<void>((resolve) => {
      finishHandler = resolve;
    });
  });
  const consumer = new Consumer({
    queue,
    slots,
    handleMessage,
    receiveWaitSeconds: 20,
    visibilityTimeoutSeconds: 60,
    logger: silentLogger(),
    metrics: createWorkerMetrics({ maxBatchSize: 2 }),
  });
  return { queue, slots, handled, handleMessage, consumer, finishHandler: () => finishHandler() };
}

describe("consumer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("asks for only as many messages as there are free slots", async () => {
    const { queue, consumer } = setup();
    consumer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.ops("receive")).toEqual([{ op: "receive", maxMessages: 2 }]);
    await consumer.stop({ abort: true });
  });

  it("long-polls again only after the handlers of the last batch finished", async () => {
    const { queue, consumer, handled, finishHandler } = setup();
    queue.push(queueMessage("a"));
    consumer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(handled).toHaveLength(1);
    expect(queue.ops("receive")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(queue.ops("receive")).toHaveLength(1);
    finishHandler();
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.ops("receive")).toEqual([
      { op: "receive", maxMessages: 2 },
      { op: "receive", maxMessages: 1 },
    ]);
    const stopped = consumer.stop({ abort: true });
    await vi.advanceTimersByTimeAsync(0);
    await stopped;
  });

  it("waits for a free slot instead of polling when the batch is full", async () => {
    const { queue, consumer, slots } = setup();
    slots.free = 0;
    consumer.start();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(queue.ops("receive")).toHaveLength(0);
    slots.open(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.ops("receive")).toEqual([{ op: "receive", maxMessages: 1 }]);
    await consumer.stop({ abort: true });
  });

  it("repeats the 20 s long poll while the queue is empty", async () => {
    const { queue, consumer } = setup();
    consumer.start();
    await vi.advanceTimersByTimeAsync(20_000 * 3 + 1);
    expect(queue.ops("receive")).toHaveLength(4);
    await consumer.stop({ abort: true });
  });

  it("stop({ abort }) aborts the long poll in progress at once", async () => {
    const { consumer } = setup();
    consumer.start();
    await vi.advanceTimersByTimeAsync(1_000);
    let isStopped = false;
    const stopped = consumer.stop({ abort: true }).then(() => {
      isStopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(isStopped).toBe(true);
    await stopped;
  });

  it("stop() lets the long poll in progress end, hands its messages over, then polls no more", async () => {
    const { queue, consumer, handled, finishHandler } = setup();
    consumer.start();
    await vi.advanceTimersByTimeAsync(1_000);
    let isStopped = false;
    const stopped = consumer.stop().then(() => {
      isStopped = true;
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(isStopped).toBe(false);
    queue.push(queueMessage("late"));
    await vi.advanceTimersByTimeAsync(0);
    expect(handled.map((message) => message.body)).toEqual(["late"]);
    expect(isStopped).toBe(false);
    finishHandler();
    await vi.advanceTimersByTimeAsync(0);
    expect(isStopped).toBe(true);
    expect(queue.ops("receive")).toHaveLength(1);
    await stopped;
  });

  it("stop() ends the wait for a free slot", async () => {
    const { consumer, slots } = setup();
    slots.free = 0;
    consumer.start();
    await vi.advanceTimersByTimeAsync(1_000);
    const stopped = consumer.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopped;
  });

  it("backs off after a failed receive, doubling the wait", async () => {
    const { queue, consumer } = setup();
    queue.receiveError = new Error("connection refused");
    consumer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.ops("receive")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(queue.ops("receive")).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(queue.ops("receive")).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.ops("receive")).toHaveLength(3);
    await consumer.stop({ abort: true });
  });
});
