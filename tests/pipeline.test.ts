import { describe, expect, it } from "vitest";
import { isWebgpuRequired, webgpuUnavailableReason } from "../gpu-worker/test/engine/support/webgpu.ts";
import { useStackFixture } from "./support/hooks.ts";
import { createJob, getBlocks, uninterruptedText, waitForEmptyQueues, waitForJob } from "./support/stack.ts";

const fixture = useStackFixture({ slowEdge: false });

/** On a GPU, or on Mesa's software Vulkan driver (CI installs it and requires the WebGPU test to run). */
const webgpuUnavailable = await webgpuUnavailableReason();

describe("a job through the whole stack", () => {
  it("is received, its blocks appended in order, finished, and its message deleted", async () => {
    const worker = await fixture.startInProcessWorker();
    const prompt = "In the beginning God created";
    const created = await createJob(prompt, { max_tokens: 48, seed: 11 });
    const done = await waitForJob(created.id, (job) => job.status === "succeeded", "the job to succeed");

    const blocks = await getBlocks(created.id);
    expect(blocks.map((block) => block.index)).toEqual(blocks.map((_, index) => index));
    expect(blocks.map((block) => block.text).join("")).toBe(done.text);
    expect(done.finish_reason).not.toBeNull();
    expect(done.usage?.completion_tokens).toBe(blocks.reduce((sum, block) => sum + block.token_count, 0));
    expect(done.usage?.forwards).toBeGreaterThan(0);
    expect(done.text).toBe(await uninterruptedText(prompt, done.params));

    await waitForEmptyQueues();
    const metrics = await (await fetch(`http://127.0.0.1:${worker.worker.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/bd3_worker_blocks_appended_total\{result="appended"\} [1-9]/);
    expect(metrics).toMatch(/bd3_worker_jobs_total\{outcome="succeeded"\} 1/);
    expect(metrics).toMatch(/bd3_worker_forward_input_bytes_total [1-9]/);
    expect(metrics).toMatch(/bd3_worker_past_reuses_total 0\n/); // DEVICE_PAST=auto is off on the CPU EP
    expect((await fetch(`http://127.0.0.1:${worker.worker.healthPort}/readyz`)).status).toBe(200);
  });

  it("runs several jobs in one batch, with the past kept on the device (DEVICE_PAST=on)", async () => {
    const worker = await fixture.startInProcessWorker({ MAX_BATCH_SIZE: "3", DEVICE_PAST: "on" });
    const jobs = await Promise.all([1, 2, 3].map((seed) => createJob("And the earth", { max_tokens: 32, seed })));
    const done = await Promise.all(
      jobs.map((job) => waitForJob(job.id, (view) => view.status === "succeeded", `job ${job.id} to succeed`)),
    );
    for (const view of done) {
      expect(view.progress.blocks).toBeGreaterThan(0);
      expect(view.text).toBe(await uninterruptedText("And the earth", view.params));
    }
    await waitForEmptyQueues();
    const metrics = await (await fetch(`http://127.0.0.1:${worker.worker.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/bd3_worker_past_reuses_total [1-9]/);
  });

  it.skipIf(webgpuUnavailable !== null && !isWebgpuRequired)(
    "runs jobs on the WebGPU execution provider with the CPU's text, the past grown and patched on the device",
    async () => {
      expect(webgpuUnavailable).toBeNull();
      const worker = await fixture.startInProcessWorker({ EXECUTION_PROVIDERS: "webgpu", MAX_BATCH_SIZE: "2" });
      const jobs = await Promise.all([4, 5].map((seed) => createJob("And the earth", { max_tokens: 48, seed })));
      const done = await Promise.all(
        jobs.map((job) => waitForJob(job.id, (view) => view.status === "succeeded", `job ${job.id} to succeed`)),
      );
      for (const view of done) expect(view.text).toBe(await uninterruptedText("And the earth", view.params));
      await waitForEmptyQueues();
      const metrics = await (await fetch(`http://127.0.0.1:${worker.worker.healthPort}/metrics`)).text();
      // DEVICE_PAST=auto is on for WebGPU: the past is reused across steps and patched as blocks are committed.
      expect(metrics).toMatch(/bd3_worker_past_reuses_total [1-9]/);
      expect(metrics).toMatch(/bd3_worker_past_patches_total [1-9]/);
    },
  );
});
