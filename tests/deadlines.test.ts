/**
 * Deadlines through the whole stack (issue 17, item 4): a job whose `ttl_seconds` passed before any worker
 * looked is deleted from the queue unleased and ends `expired` (it never started); a job running past its
 * `timeout_seconds` is canceled with the reason, its committed blocks kept. Also: the create's x-request-id
 * is in the job and in the worker's log lines for it, so one grep follows a job end to end.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import { startSlowEdge } from "./support/slow-edge.ts";
import {
  createJob,
  findLongSeed,
  getBlocks,
  logLines,
  longJobTokens,
  spawnWorker,
  stackAddresses,
  waitFor,
  waitForEmptyQueues,
  waitForJob,
} from "./support/stack.ts";

const fixture = useStackFixture({ slowEdge: false });
/** Delay per block-stream append in the timeout test: LONG_JOB_MIN_BLOCKS of them outlast the timeout. */
const BLOCK_PACE_MS = 250;

describe("deadlines", () => {
  it("deletes a job's message unleased once its ttl passed, and the edge expires it", async () => {
    const { edgeUrl } = stackAddresses();
    const reply = await fetch(`${edgeUrl}/v1/generations`, {
      method: "POST",
      headers: {
        Authorization: "Bearer bd3_dev_0123456789abcdef0123456789abcdef",
        "Content-Type": "application/json",
        "x-request-id": "ttl-test-1",
      },
      body: JSON.stringify({ prompt: "In the beginning", max_tokens: 32, ttl_seconds: 1 }),
    });
    expect(reply.status).toBe(202);
    const { id } = (await reply.json()) as { id: string };
    // No worker until the deadline has passed.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const worker = spawnWorker();
    try {
      const lines = await waitFor(
        "the worker to drop the expired message",
        async () => {
          const found = logLines(worker.output(), "start deadline passed; deleting the message unleased");
          return found.length > 0 ? found : undefined;
        },
        { timeoutMs: 60_000 },
      );
      expect(lines[0]).toMatchObject({ job_id: id, request_id: "ttl-test-1" });
      const expired = await waitForJob(id, (job) => job.status === "expired", "the job to expire", 30_000);
      expect(expired).toMatchObject({
        started_at: null,
        error: { code: "deadline_exceeded" },
        request_id: "ttl-test-1",
      });
      expect(expired.progress.blocks).toBe(0);
      await waitForEmptyQueues();
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });

  it("cancels a job running past its timeout, keeping the blocks it committed", async () => {
    const seed = await findLongSeed("And the earth");
    const job = await createJob("And the earth", { max_tokens: longJobTokens(), seed, timeout_seconds: 2 } as never);
    // Paced so the job surely runs past its timeout: at least LONG_JOB_MIN_BLOCKS blocks of 250 ms each.
    const slowEdge = await startSlowEdge({ target: stackAddresses().edgeUrl, appendDelayMs: BLOCK_PACE_MS });
    onTestFinished(() => slowEdge.close());
    await fixture.startInProcessWorker({ EDGE_URL: slowEdge.url });
    const running = await waitForJob(job.id, (view) => view.status === "running", "the job to start", 30_000);
    expect(running.timeout_seconds).toBe(2);
    const canceled = await waitForJob(job.id, (view) => view.status !== "running", "the job to end", 30_000);
    expect(canceled).toMatchObject({ finish_reason: "canceled", error: { code: "timeout_exceeded" } });
    expect(canceled.progress.blocks).toBeGreaterThan(0);
    const blocks = await getBlocks(job.id);
    expect(blocks).toHaveLength(canceled.progress.blocks);
    expect(blocks.map((block) => block.text).join("")).toBe(canceled.text);
    const ranMs = Date.parse(canceled.finished_at ?? "") - Date.parse(canceled.started_at ?? "");
    expect(ranMs).toBeGreaterThanOrEqual(2_000);
    await waitForEmptyQueues();
  });
});
