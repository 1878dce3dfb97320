import { describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import {
  cancelJob,
  counterValues,
  createLongJob,
  getJob,
  LONG_JOB_MIN_BLOCKS,
  waitForEmptyQueues,
  waitForJob,
} from "./support/stack.ts";

const fixture = useStackFixture();

describe("cancel", () => {
  it("stops a running job at the next block, frees its slot and deletes its message", async () => {
    const created = await createLongJob("In the beginning");
    const worker = await fixture.startInProcessWorker({ EDGE_URL: fixture.slowEdgeUrl });
    await waitForJob(created.id, (job) => job.progress.blocks >= 2, "the first blocks", 30_000);
    const { status } = await cancelJob(created.id);
    expect([200, 202]).toContain(status);

    // The worker sees the cancel in its next append (or heartbeat) reply and confirms it at once, well
    // before the edge's own cancel grace (60 s) would cancel the job alone.
    const canceled = await waitForJob(created.id, (job) => job.status === "canceled", "the job to be canceled", 10_000);
    expect(canceled.finish_reason).toBe("canceled");
    expect(canceled.progress.blocks).toBeLessThan(LONG_JOB_MIN_BLOCKS);
    await waitForEmptyQueues();
    expect(worker.worker.runner.heldJobs).toBe(0);
    expect((await counterValues(worker.worker, "jobs")).canceled).toBe(1);
    expect((await getJob(created.id)).progress.blocks).toBe(canceled.progress.blocks);
  });
});
