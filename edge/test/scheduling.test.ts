import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { JobMessageSchema, type JobView } from "@bd3-serve/shared";
import { describe, expect, inject, it } from "vitest";
import { STALE_TICKET_GRACE_MS } from "../src/queue/queue-ledger.ts";
import { call, createJob, json } from "./helpers/api.ts";
import { settled, stubOfJob } from "./helpers/job-object.ts";
import { lease } from "./helpers/worker.ts";

/** A ledger of its own per test (named like a queue nobody else uses), on a clock the test moves. */
async function freshLedger(startMs = 1_000_000) {
  const stub = env.QUEUE_LEDGER.get(env.QUEUE_LEDGER.idFromName(`ledger-test-${crypto.randomUUID()}`));
  let nowMs = startMs;
  await runInDurableObject(stub, (instance) => {
    instance.clock = () => nowMs;
  });
  return {
    stub,
    advance: (ms: number) => {
      nowMs += ms;
      return runInDurableObject(stub, (instance) => {
        instance.clock = () => nowMs;
      });
    },
    now: () => nowMs,
  };
}

const FAR_MS = 86_400_000;

describe("QueueLedger", () => {
  it("places tickets in creation order and moves them up as the ones ahead start or end, in any order", async () => {
    const { stub, now } = await freshLedger();
    const tickets: number[] = [];
    for (const jobId of ["j1", "j2", "j3", "j4"]) {
      tickets.push((await stub.take({ jobId, startByMs: now() + FAR_MS })).ticket);
    }
    expect(tickets).toEqual([1, 2, 3, 4]);
    expect(await Promise.all(tickets.map((ticket) => stub.place(ticket)))).toEqual(
      [0, 1, 2, 3].map((position) => ({ position, estimatedStartAtMs: null })),
    );
    // A retried take (its reply was lost) keeps the ticket.
    expect((await stub.take({ jobId: "j2", startByMs: now() + FAR_MS })).ticket).toBe(2);
    // j3 ends while queued (out of order): only j4 moves up.
    await stub.settle({ ticket: 3, isStarted: false });
    expect((await stub.place(4))?.position).toBe(2);
    expect(await stub.place(3)).toBeNull();
    // j1 starts (the head): everyone behind moves up; settling twice changes nothing.
    await stub.settle({ ticket: 1, isStarted: true });
    await stub.settle({ ticket: 1, isStarted: true });
    expect((await stub.place(2))?.position).toBe(0);
    expect((await stub.place(4))?.position).toBe(1);
    expect(await stub.waitingCount()).toBe(2);
  });

  it("estimates the start from the moving average of the time between starts", async () => {
    const { stub, advance, now } = await freshLedger();
    for (const jobId of ["a", "b", "c", "d"]) await stub.take({ jobId, startByMs: now() + FAR_MS });
    await advance(10_000);
    await stub.settle({ ticket: 1, isStarted: true }); // first sample: 10 s since it was taken
    const startedAtMs = now();
    // d has b and c ahead: it is the third start from now, 10 s apart.
    expect(await stub.place(4)).toEqual({ position: 2, estimatedStartAtMs: startedAtMs + 3 * 10_000 });
    await advance(5_000);
    await stub.settle({ ticket: 2, isStarted: true }); // 5 s: the average moves a fifth of the way to it
    expect(await stub.place(4)).toEqual({ position: 1, estimatedStartAtMs: now() + 2 * 9_000 });
  });

  it("drops the tickets of jobs past their start deadline (a lost report never holds the queue up)", async () => {
    const { stub, advance, now } = await freshLedger();
    await stub.take({ jobId: "lost", startByMs: now() + 1_000 });
    await stub.take({ jobId: "next", startByMs: now() + FAR_MS });
    expect((await stub.place(2))?.position).toBe(1);
    await advance(1_000 + STALE_TICKET_GRACE_MS + 1);
    expect(await stub.place(2)).toEqual({ position: 0, estimatedStartAtMs: null });
    expect(await stub.place(1)).toBeNull();
  });
});

async function viewOf(jobId: string, key: "tenantA" | "priorityCapped" = "tenantA") {
  return json<JobView>(await call("GET", `/v1/generations/${jobId}`, { key }));
}

async function waitForPosition(jobId: string, expected: number) {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const view = await viewOf(jobId);
    if (view.queue_position === expected) return view;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${jobId} never reached queue_position ${expected}: ${JSON.stringify(await viewOf(jobId))}`);
}

describe("priority and queue position on the public API", () => {
  it("refuses a priority above the key's priority_max with a 403 naming priority; the default is normal", async () => {
    const refused = await call("POST", "/v1/generations", {
      key: "priorityCapped",
      body: { prompt: "x", priority: 2 },
    });
    expect(refused.status).toBe(403);
    expect((await json<{ error: { param: string } }>(refused)).error.param).toBe("priority");
    const outOfRange = await call("POST", "/v1/generations", { body: { prompt: "x", priority: 3 } });
    expect(outOfRange.status).toBe(400);
    expect((await json<{ error: { param: string } }>(outOfRange)).error.param).toBe("priority");
    const capped = await createJob({ prompt: "x", priority: 1 }, { key: "priorityCapped" });
    expect(capped.priority).toBe(1);
    expect((await createJob({ prompt: "x" })).priority).toBe(1);
    expect((await createJob({ prompt: "x", priority: 0 })).priority).toBe(0);
  });

  it("counts the jobs ahead in the job's own (model, priority) queue, down as they start or end; null once running", async () => {
    // kjv-bd3lm-b4 at low priority: a queue no other test uses, so the positions are this test's alone.
    const body = { prompt: "wait your turn", model: "kjv-bd3lm-b4", priority: 0 };
    const jobs = [await createJob(body), await createJob(body), await createJob(body)];
    expect(jobs[0]!.queue_position).toBeNull(); // the ticket is taken after the create answered
    for (const job of jobs) await settled(stubOfJob(job.id));
    await waitForPosition(jobs[0]!.id, 0);
    await waitForPosition(jobs[2]!.id, 2);
    expect((await viewOf(jobs[2]!.id)).estimated_start_at).toBeNull(); // no start seen on this queue yet
    await lease(jobs[0]!.id);
    await settled(stubOfJob(jobs[0]!.id));
    const running = await viewOf(jobs[0]!.id);
    expect([running.status, running.queue_position, running.estimated_start_at]).toEqual(["running", null, null]);
    await waitForPosition(jobs[1]!.id, 0);
    const third = await waitForPosition(jobs[2]!.id, 1);
    expect(third.estimated_start_at).not.toBeNull();
    await call("POST", `/v1/generations/${jobs[1]!.id}/cancel`, { body: {} });
    await waitForPosition(jobs[2]!.id, 0);
    // A list row carries the priority but no place (that is one job's read, not a ledger call per row).
    const list = await json<{ data: JobView[] }>(await call("GET", "/v1/generations?limit=5"));
    const row = list.data.find((entry) => entry.id === jobs[2]!.id);
    expect([row?.priority, row?.queue_position, row?.estimated_start_at]).toEqual([0, null, null]);
  });
});

describe("queue routing", () => {
  const sqs = new SQSClient({
    endpoint: inject("sqsEndpoint"),
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });

  async function messageIn(queueUrl: string, jobId: string) {
    for (let poll = 0; poll < 20; poll += 1) {
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of received.Messages ?? []) {
        const body = JobMessageSchema.parse(JSON.parse(message.Body ?? "{}"));
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
        if (body.job_id === jobId) return body;
      }
    }
    throw new Error(`no message for ${jobId} in ${queueUrl}`);
  }

  it("sends a job to the queue of its model and priority", async () => {
    const queues = inject("sqsQueues");
    const high = await createJob({ prompt: "urgent", priority: 2 });
    expect(await messageIn(queues["kjv-bd3lm-b16"]!["2"]!, high.id)).toMatchObject({ job_id: high.id, priority: 2 });
    const tiny = await createJob({ prompt: "small", model: "tiny-random-b4" });
    expect(await messageIn(queues["tiny-random-b4"]!["1"]!, tiny.id)).toMatchObject({
      model: "tiny-random-b4",
      priority: 1,
    });
  });
});
