import { describe, expect, it } from "vitest";
import { PriorityQueues, receiveOrder } from "../../src/runtime/queue/priority-queues.ts";
import { FakeQueue, jobMessage, queueMessage } from "./fakes.ts";

/** Three queues, highest priority first, each holding `depth` messages named after it. */
function queues(depth: number) {
  const [high, normal, low] = ["high", "normal", "low"].map((name) => new FakeQueue(`http://sqs.local/0/${name}`)) as [
    FakeQueue,
    FakeQueue,
    FakeQueue,
  ];
  for (const queue of [high, normal, low]) {
    for (let index = 0; index < depth; index += 1) {
      queue.push(
        queueMessage(jobMessage({ job_id: `${queue.url.split("/").pop()}_${index}` }), { queueUrl: queue.url }),
      );
    }
  }
  return { high, normal, low };
}

const RECEIVE = { maxMessages: 1, waitSeconds: 20, visibilityTimeoutSeconds: 10 };

function jobIdOf(body: string): string {
  return (JSON.parse(body) as { job_id: string }).job_id;
}

describe("receiveOrder", () => {
  it("asks the highest priority first, and the lowest first in one round of N", () => {
    expect([0, 1, 2, 3, 4, 5].map((round) => receiveOrder(round, 3, 3))).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [2, 1, 0],
      [0, 1, 2],
      [0, 1, 2],
      [2, 1, 0],
    ]);
    expect(receiveOrder(4, 1, 5)).toEqual([0]);
  });
});

describe("PriorityQueues", () => {
  it("takes a waiting higher-priority job first, and gives the lowest the slot of every Nth round", async () => {
    const { high, normal, low } = queues(10);
    const set = new PriorityQueues({ queues: [high, normal, low], lowestFirstEveryRounds: 4 });
    const taken: string[] = [];
    for (let round = 0; round < 8; round += 1) {
      const [message] = await set.receive(RECEIVE);
      taken.push(jobIdOf(message!.body).split("_")[0]!);
    }
    expect(taken).toEqual(["high", "high", "high", "low", "high", "high", "high", "low"]);
    // A round that took its slot from the first queue asked no other.
    expect(normal.ops("receive")).toEqual([]);
  });

  it("fills the free slots from lower queues, short-polling all but the last, which long-polls only when empty-handed", async () => {
    const { high, normal, low } = queues(1);
    const set = new PriorityQueues({ queues: [high, normal, low], lastWaitSecondsMax: 2 });
    const messages = await set.receive({ ...RECEIVE, maxMessages: 3 });
    expect(messages.map((message) => jobIdOf(message.body))).toEqual(["high_0", "normal_0", "low_0"]);
    expect([high, normal, low].map((queue) => queue.ops("receive"))).toEqual([
      [{ op: "receive", maxMessages: 3 }],
      [{ op: "receive", maxMessages: 2 }],
      [{ op: "receive", maxMessages: 1 }],
    ]);
    // Something was already taken: the last queue is not long-polled either.
    expect([high, normal, low].map((queue) => queue.receiveWaitsSeconds)).toEqual([[0], [0], [0]]);
    // Nothing anywhere: the last queue long-polls, capped so an idle worker soon looks at the higher ones again.
    const abort = new AbortController();
    const idle = set.receive({ ...RECEIVE, signal: abort.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    abort.abort();
    expect(await idle).toEqual([]);
    expect([high, normal, low].map((queue) => queue.receiveWaitsSeconds.at(-1))).toEqual([0, 0, 2]);
  });

  it("deletes and extends a message on the queue it came from, and sends a continuation back there", async () => {
    const { high, normal, low } = queues(1);
    const set = new PriorityQueues({ queues: [high, normal, low] });
    const [message] = await set.receive({ ...RECEIVE, maxMessages: 1 });
    const fromLow = queueMessage("{}", { queueUrl: low.url });
    await set.changeVisibility(fromLow, 10);
    await set.delete(fromLow);
    await set.send("continuation", low.url);
    expect(low.calls.filter((call) => call.op !== "receive").map((call) => call.op)).toEqual([
      "changeVisibility",
      "delete",
      "send",
    ]);
    await set.delete(message!);
    expect(high.ops("delete")).toHaveLength(1);
    expect(normal.ops("delete")).toEqual([]);
    await expect(set.delete(queueMessage("{}", { queueUrl: "http://sqs.local/0/other" }))).rejects.toThrow(/no queue/);
  });

  it("hands on what a higher queue gave when a lower one fails, and throws only when nothing came", async () => {
    const { high, normal, low } = queues(1);
    low.receiveError = new Error("low is down");
    const set = new PriorityQueues({ queues: [high, normal, low] });
    expect(await set.receive({ ...RECEIVE, maxMessages: 3 })).toHaveLength(2);
    await expect(set.receive({ ...RECEIVE, maxMessages: 3 })).rejects.toThrow("low is down");
  });

  it("reads the attributes of every queue: the smallest maxReceiveCount and the depth summed", async () => {
    const { high, normal, low } = queues(0);
    const set = new PriorityQueues({ queues: [high, normal, low] });
    expect(await set.attributes()).toEqual({
      maxReceiveCount: 3,
      deadLetterTargetArn: undefined,
      approximateNumberOfMessages: 0,
    });
    expect(set.urls).toEqual([high.url, normal.url, low.url]);
  });
});
