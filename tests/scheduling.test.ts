/**
 * Issue 17, items 3, 5 and 6 on the whole stack (fauxqs, the edge in workerd, the real worker and engine):
 * a job waits in the queue of its (model, priority); a worker polling a model's queues by priority starts a
 * high-priority job before an older backlog of low ones; a queued job's view counts the jobs ahead of it down
 * as they start; a job for a second model goes to that model's queues and a worker serving it runs it.
 */
import { resolve } from "node:path";
import type { JobView } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import {
  createJob,
  findLongSeed,
  getJob,
  longJobTokens,
  MODEL_NAME,
  queueDepth,
  REPO_ROOT,
  stackAddresses,
  waitFor,
  waitForJob,
} from "./support/stack.ts";

const fixture = useStackFixture({ slowEdge: false });

/** The model the routing test sends to: another package under models/ than the stack's default. */
const SECOND_MODEL = MODEL_NAME === "tiny-random-b4" ? "kjv-bd3lm-b4" : "tiny-random-b4";

/** SQS_QUEUE_URLS of a worker for `model`: its queues, highest priority first. */
function queueUrlsOf(model: string): string {
  const queues = stackAddresses().modelQueues[model];
  if (queues === undefined) throw new Error(`the stack made no queues for ${model}`);
  return [queues.byPriority[2], queues.byPriority[1], queues.byPriority[0]].join(",");
}

const startedAtMs = (view: JobView) => Date.parse(view.started_at ?? "");

describe("scheduling", () => {
  it("starts a later high-priority job before a backlog of low ones, counting the queue down as jobs start", async () => {
    // Jobs long enough (past LONG_JOB_MIN_BLOCKS blocks) that a poller sees the queue move between starts.
    const prompt = "And the earth";
    const params = { max_tokens: longJobTokens(), seed: await findLongSeed(prompt) };
    const lows: JobView[] = [];
    for (let index = 0; index < 3; index += 1) lows.push(await createJob(prompt, { ...params, priority: 0 }));
    const high = await createJob(prompt, { ...params, priority: 2 });
    expect(high.priority).toBe(2);
    // No worker yet: the tickets are taken just after each create, in creation order per queue.
    for (const [index, low] of lows.entries()) {
      await waitForJob(low.id, (view) => view.queue_position === index, `low job ${index} at position ${index}`);
    }
    expect((await getJob(high.id)).queue_position).toBe(0);
    const queues = stackAddresses().modelQueues[MODEL_NAME]!;
    expect((await queueDepth(queues.byPriority[0])).visible).toBe(3);
    expect((await queueDepth(queues.byPriority[2])).visible).toBe(1);

    await fixture.startInProcessWorker({ SQS_QUEUE_URLS: queueUrlsOf(MODEL_NAME), MAX_BATCH_SIZE: "1" });
    const last = lows.at(-1)!;
    const seen: { position: number | null; estimate: string | null; status: string }[] = [];
    await waitFor(
      "the last low-priority job to start",
      async () => {
        const view = await getJob(last.id);
        seen.push({ position: view.queue_position, estimate: view.estimated_start_at, status: view.status });
        return view.status === "queued" ? undefined : view;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const done = await Promise.all(
      [high, ...lows].map((job) => waitForJob(job.id, (view) => view.status === "succeeded", `${job.id} to succeed`)),
    );
    const [highDone, ...lowsDone] = done;
    for (const low of lowsDone) expect(startedAtMs(highDone!)).toBeLessThan(startedAtMs(low));
    // One job at a time (MAX_BATCH_SIZE=1): each low job started after the one before it finished.
    for (const [index, low] of lowsDone.entries()) {
      if (index > 0) expect(startedAtMs(low)).toBeGreaterThanOrEqual(Date.parse(lowsDone[index - 1]!.finished_at!));
    }

    const queuedPositions = seen.filter((entry) => entry.status === "queued").map((entry) => entry.position);
    expect(queuedPositions[0]).toBe(2);
    expect(queuedPositions.some((position) => position !== null && position < 2)).toBe(true);
    const counted = queuedPositions.filter((position) => position !== null) as number[];
    expect(counted).toEqual([...counted].sort((a, b) => b - a)); // never goes up
    // Once a low job started, the queue has a start rate: the estimate appears.
    expect(seen.some((entry) => entry.status === "queued" && entry.estimate !== null)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ position: null, estimate: null });
  });

  it("routes a job for a second model to that model's queues, where a worker serving that model runs it", async () => {
    const job = await createJob("In the beginning", { model: SECOND_MODEL, max_tokens: 16, seed: 5 });
    expect(job.model).toBe(SECOND_MODEL);
    const second = stackAddresses().modelQueues[SECOND_MODEL]!;
    await waitFor("the message in the second model's normal queue", async () =>
      (await queueDepth(second.byPriority[1])).visible === 1 ? true : undefined,
    );
    expect((await queueDepth(stackAddresses().queueUrl)).visible).toBe(0);

    await fixture.startInProcessWorker({
      SQS_QUEUE_URLS: queueUrlsOf(SECOND_MODEL),
      SQS_DLQ_URL: second.dlqUrl,
      MODEL_DIR: resolve(REPO_ROOT, "models", SECOND_MODEL),
      MAX_BATCH_SIZE: "1",
    });
    const done = await waitForJob(job.id, (view) => view.status === "succeeded", "the second model's job");
    expect(done.progress.blocks).toBeGreaterThan(0);
    await waitFor("the second model's queue to be empty", async () => {
      const depth = await queueDepth(second.byPriority[1]);
      return depth.visible + depth.inFlight === 0 ? true : undefined;
    });
  });

  it("lists the served models with their block size and context length", async () => {
    const reply = await fetch(`${stackAddresses().edgeUrl}/v1/models`, {
      headers: { authorization: "Bearer bd3_dev_0123456789abcdef0123456789abcdef" },
    });
    const models = (await reply.json()) as { data: { id: string; block_size: number; context_length: number }[] };
    expect(models.data.find((model) => model.id === SECOND_MODEL)).toMatchObject({ block_size: 4 });
    expect(models.data.every((model) => model.context_length >= model.block_size)).toBe(true);
  });
});
