import { runInDurableObject } from "cloudflare:test";
import { BlockSchema, ErrorBodySchema, JobSummarySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob } from "./helpers/api.ts";
import { stubOfJob } from "./helpers/job-object.ts";
import { readSse } from "./helpers/sse.ts";
import { append, finish, lease } from "./helpers/worker.ts";

async function jobWithBlocks(count: number, { finished }: { finished: boolean }) {
  const job = await createJob();
  const { epoch } = await lease(job.id);
  for (let index = 0; index < count; index += 1) await append(job.id, epoch, index);
  if (finished) await finish(job.id, epoch);
  return { job, epoch };
}

function stream(jobId: string, { after, lastEventId }: { after?: number; lastEventId?: string } = {}) {
  const query = after === undefined ? "" : `?after=${after}`;
  const headers: Record<string, string> = lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId };
  return call("GET", `/v1/generations/${jobId}/stream${query}`, { headers });
}

describe("GET /v1/generations/:id/stream", () => {
  it("replays every block, each with its index as id, then a done event with the terminal status", async () => {
    const { job } = await jobWithBlocks(3, { finished: true });
    const response = await stream(job.id);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toContain("text/event-stream");
    const { events } = await readSse(response.body!);
    expect(events.map((event) => [event.id, event.event])).toEqual([
      ["0", "block"],
      ["1", "block"],
      ["2", "block"],
      [undefined, "done"],
    ]);
    expect(BlockSchema.parse(JSON.parse(events[1]!.data))).toEqual({ index: 1, text: "block 1. ", token_count: 9 });
    expect(JobSummarySchema.parse(JSON.parse(events[3]!.data))).toMatchObject({ status: "succeeded" });
  });

  it("resumes after Last-Event-ID with exactly the missing blocks", async () => {
    const { job } = await jobWithBlocks(6, { finished: true });
    const { events } = await readSse((await stream(job.id, { lastEventId: "3" })).body!);
    expect(events.filter((e) => e.event === "block").map((e) => e.id)).toEqual(["4", "5"]);
  });

  it("resumes after ?after= and lets Last-Event-ID win when both are sent", async () => {
    const { job } = await jobWithBlocks(4, { finished: true });
    const byQuery = await readSse((await stream(job.id, { after: 1 })).body!);
    expect(byQuery.events.filter((e) => e.event === "block").map((e) => e.id)).toEqual(["2", "3"]);
    const both = await readSse((await stream(job.id, { after: 0, lastEventId: "2" })).body!);
    expect(both.events.filter((e) => e.event === "block").map((e) => e.id)).toEqual(["3"]);
  });

  it("goes live after catch-up: each block once, in order, then done", async () => {
    const { job, epoch } = await jobWithBlocks(2, { finished: false });
    const response = await stream(job.id, { after: 0 });
    const reading = readSse(response.body!);
    for (const index of [2, 3, 4]) await append(job.id, epoch, index);
    await append(job.id, epoch, 3);
    await finish(job.id, epoch);
    const { events } = await reading;
    expect(events.map((e) => e.id ?? e.event)).toEqual(["1", "2", "3", "4", "done"]);
  });

  it("sends keep-alive comments while nothing happens", async () => {
    const { job } = await jobWithBlocks(1, { finished: false });
    const { events, comments } = await readSse((await stream(job.id)).body!, (_events, seen) => seen.length > 0);
    expect(comments).toContain("keep-alive");
    expect(events.map((e) => e.id)).toEqual(["0"]);
  });

  it("forgets a reader that went away (no waiter left behind)", async () => {
    const { job, epoch } = await jobWithBlocks(1, { finished: false });
    const stub = stubOfJob(job.id);
    const { events } = await readSse((await stream(job.id)).body!, (seen) => seen.length > 0);
    expect(events.map((e) => e.id)).toEqual(["0"]);
    await append(job.id, epoch, 1);
    await append(job.id, epoch, 2);
    expect(await runInDurableObject(stub, (instance) => instance.core.notifier.waiting("document"))).toBe(0);
  });

  it("ends at once with done for a job canceled before any block", async () => {
    const job = await createJob();
    await call("POST", `/v1/generations/${job.id}/cancel`);
    const { events } = await readSse((await stream(job.id)).body!);
    expect(events.map((e) => e.event)).toEqual(["done"]);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ status: "canceled" });
  });

  it.each([["abc"], ["-5"], ["1.5"]])("refuses Last-Event-ID %s with a 400", async (lastEventId) => {
    const job = await createJob();
    const response = await stream(job.id, { lastEventId });
    expect(response.status).toBe(400);
    expect(ErrorBodySchema.parse(await response.json()).error.param).toBe("Last-Event-ID");
  });
});
