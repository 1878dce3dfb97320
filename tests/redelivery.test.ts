import type { JobView } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import {
  counterValues,
  createLongJob,
  getBlocks,
  getJob,
  spawnWorker,
  uninterruptedText,
  waitFor,
  waitForEmptyQueues,
  waitForJob,
} from "./support/stack.ts";

const fixture = useStackFixture();

/** The job once its committed block count has not changed for 300 ms. */
async function settledJob(id: string): Promise<JobView> {
  let last = await getJob(id);
  return waitFor("the committed blocks to settle", async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = await getJob(id);
    const isSettled = now.progress.blocks === last.progress.blocks;
    last = now;
    return isSettled ? now : undefined;
  });
}

describe("crash and redelivery", () => {
  it("resumes a job after its worker died: visibility expiry, redelivery, no block duplicated or missing", async () => {
    const prompt = "And God said, Let there be light";
    const created = await createLongJob(prompt);
    const crashing = spawnWorker({ EDGE_URL: fixture.slowEdgeUrl });
    await waitForJob(created.id, (job) => job.progress.blocks >= 2, "the first blocks", 30_000);
    crashing.child.kill("SIGKILL");
    expect(await crashing.exited).toBe("SIGKILL");
    // An append the dead worker had already sent may still land; wait until the committed count holds still.
    const atCrash = await settledJob(created.id);
    expect(atCrash.status).toBe("running");
    const committedAtCrash = atCrash.progress.blocks;

    // Nobody heart-beats the message now; after VISIBILITY_TIMEOUT_SECONDS SQS hands it to the next worker.
    const worker = await fixture.startInProcessWorker();
    const done = await waitForJob(created.id, (job) => job.status === "succeeded", "the resumed job to succeed");
    const blocks = await getBlocks(created.id);
    expect(blocks.map((block) => block.index)).toEqual(blocks.map((_, index) => index));
    expect(blocks.length).toBeGreaterThan(committedAtCrash);

    // The second worker wrote exactly the blocks after the crash, none twice, and the text is the same as
    // an uninterrupted run's (randomness is derived from seed and block index).
    const appended = await counterValues(worker.worker, "blocksAppended");
    expect(appended.appended).toBe(blocks.length - committedAtCrash);
    expect(appended.duplicate ?? 0).toBe(0);
    expect(done.text).toBe(await uninterruptedText(prompt, done.params));
    await waitForEmptyQueues();
  });
});
