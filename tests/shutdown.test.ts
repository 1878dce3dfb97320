import { describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import {
  createLongJob,
  getBlocks,
  getJob,
  logLines,
  queueDepth,
  spawnWorker,
  stackAddresses,
  waitFor,
  waitForEmptyQueues,
  waitForJob,
} from "./support/stack.ts";

const fixture = useStackFixture();

describe("SIGTERM", () => {
  it("drains: appends the blocks in flight, releases the messages, exits 0; another worker finishes the jobs", async () => {
    const prompt = "Blessed are the meek";
    const first = await createLongJob(prompt);
    const second = await createLongJob(prompt, Number(first.params.seed) + 1);
    const jobs = [first, second];
    const draining = spawnWorker({
      EDGE_URL: fixture.slowEdgeUrl,
      SHUTDOWN_GRACE_SECONDS: "15",
      VISIBILITY_TIMEOUT_SECONDS: "30",
    });
    for (const job of jobs) await waitForJob(job.id, (view) => view.progress.blocks >= 1, "the first blocks", 30_000);

    const signaledAt = Date.now();
    draining.child.kill("SIGTERM");
    const exitCode = await draining.exited;
    if (exitCode !== 0) console.error(draining.output());
    expect(exitCode).toBe(0);
    expect(Date.now() - signaledAt).toBeLessThan(15_000);
    expect(logLines(draining.output(), "worker stopped")).toMatchObject([{ is_clean: true, held_jobs: 0 }]);

    // Released with visibility 0 (not left to the 30 s visibility timeout): visible again at once, and the
    // edge still has both jobs running with the blocks appended before the exit.
    const depth = await queueDepth(stackAddresses().queueUrl);
    expect(depth).toEqual({ visible: 2, inFlight: 0 });
    for (const job of jobs) {
      const view = await getJob(job.id);
      expect(view.status).toBe("running");
      expect((await getBlocks(job.id)).length).toBe(view.progress.blocks);
    }

    await fixture.startInProcessWorker();
    for (const job of jobs) {
      await waitForJob(job.id, (view) => view.status === "succeeded", "the job to finish on the next worker");
      const blocks = await getBlocks(job.id);
      expect(blocks.map((block) => block.index)).toEqual(blocks.map((_, index) => index));
    }
    await waitForEmptyQueues();
  });

  it("exits at once on a second signal", async () => {
    const created = await createLongJob("Blessed are the meek");
    const draining = spawnWorker({ EDGE_URL: fixture.slowEdgeUrl, SHUTDOWN_GRACE_SECONDS: "15" });
    await waitForJob(created.id, (view) => view.progress.blocks >= 1, "the first blocks", 30_000);
    draining.child.kill("SIGTERM");
    // Two signals sent back to back coalesce into one; send the second once the first is being handled.
    await waitFor("the drain to start", async () =>
      logLines(draining.output(), "shutting down: draining").length > 0 ? true : undefined,
    );
    draining.child.kill("SIGTERM");
    expect(await draining.exited).toBe(143);
    await waitFor("the job's message to come back after its visibility timeout", async () => {
      const depth = await queueDepth(stackAddresses().queueUrl);
      return depth.visible + depth.inFlight === 1 ? true : undefined;
    });
  });
});
