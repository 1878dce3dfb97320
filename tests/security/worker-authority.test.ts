/**
 * Issue 21, boundary 1 and 2, on the real stack (workerd + fauxqs): what the holder of a job's capability may
 * do, the capability taken from the job's queue message exactly as a worker gets it. Each test asserts the
 * refusal and that the job's text, usage and status are unchanged.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { API_KEY, createJob, getJob, purgeQueues, stackAddresses } from "../support/stack.ts";
import { takeJob } from "../support/synthetic-writer.ts";

beforeEach(purgeQueues);

async function workerPost(jobId: string, capability: string, route: string, body: unknown) {
  const response = await fetch(`${stackAddresses().edgeUrl}/internal/v1/jobs/${jobId}/${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${capability}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** A 16-token block as the single-block append carries it. */
function block(index: number, char: string, finishReason?: string) {
  const text = char.repeat(16);
  return {
    block: { index, text, token_count: 16 },
    token_ids: Array.from(text, (c) => c.charCodeAt(0)),
    ...(finishReason !== undefined ? { finish_reason: finishReason } : {}),
  };
}

describe("the edge is the authority on a job", () => {
  it("refuses a second worker's lease while the first one's is live (409 lease_held + Retry-After)", async () => {
    const created = await createJob("Let there be light", { max_tokens: 64 });
    const first = await takeJob(created.id, "worker-a");
    const { capability } = first.message;
    const second = await workerPost(created.id, capability, "lease", { worker_id: "worker-b" });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("lease_held");
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The first worker's epoch is still the current one: its writes go through.
    const appended = await workerPost(created.id, capability, "blocks", { epoch: first.lease.epoch, ...block(0, "a") });
    expect(appended.status).toBe(200);
    expect(await getJob(created.id)).toMatchObject({ status: "running", progress: { blocks: 1, tokens: 16 } });
  });

  it("refuses blocks past max_tokens (409 max_tokens_exceeded) and computes the usage itself", async () => {
    const created = await createJob("Let there be light", { max_tokens: 32 });
    const job = await takeJob(created.id);
    const { capability } = job.message;
    const { epoch } = job.lease;
    expect((await workerPost(created.id, capability, "blocks", { epoch, ...block(0, "a") })).status).toBe(200);
    expect((await workerPost(created.id, capability, "blocks", { epoch, ...block(1, "b") })).status).toBe(200);
    const third = await workerPost(created.id, capability, "blocks", { epoch, ...block(2, "c") });
    expect(third.status).toBe(409);
    expect(third.body.error.code).toBe("max_tokens_exceeded");
    const before = await getJob(created.id);
    expect(before).toMatchObject({ text: "a".repeat(16) + "b".repeat(16), progress: { blocks: 2, tokens: 32 } });
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 0, forwards: 7 };
    const finished = await workerPost(created.id, capability, "finish", { epoch, finish_reason: "max_tokens", usage });
    expect(finished.body).toEqual({ status: "succeeded" });
    const after = await getJob(created.id);
    expect(after.text).toBe(before.text);
    // "Let there be light" is 18 bytes: at most 18 + 2 prompt tokens; 32 committed tokens.
    expect(after.usage).toEqual({ prompt_tokens: 20, completion_tokens: 32, forwards: 7 });
  });

  it("ends a job canceled when the worker finishes it after a cancel (cancel wins)", async () => {
    const created = await createJob("Let there be light", { max_tokens: 64 });
    const job = await takeJob(created.id);
    const { capability } = job.message;
    const { epoch } = job.lease;
    expect((await workerPost(created.id, capability, "blocks", { epoch, ...block(0, "a") })).status).toBe(200);
    const cancel = await fetch(`${stackAddresses().edgeUrl}/v1/generations/${created.id}/cancel`, {
      method: "POST",
      headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(cancel.status).toBe(202);
    const usage = { prompt_tokens: 3, completion_tokens: 16, forwards: 4 };
    const finished = await workerPost(created.id, capability, "finish", { epoch, finish_reason: "eos", usage });
    expect(finished.body).toEqual({ status: "canceled" });
    expect(await getJob(created.id)).toMatchObject({
      status: "canceled",
      finish_reason: "canceled",
      text: "a".repeat(16),
    });
  });

  it("accepts a capability for its own job only, and not once its expiry is altered", async () => {
    const [mine, other] = [await createJob("In the beginning"), await createJob("And the earth")];
    const job = await takeJob(mine.id);
    const { capability } = job.message;
    expect(capability).toMatch(/^v2\.\d+\.[A-Za-z0-9_-]{43}$/);
    const foreign = await workerPost(other.id, capability, "lease", { worker_id: "thief" });
    expect(foreign.status).toBe(401);
    const [, expiresAt, mac] = capability.split(".");
    const extended = `v2.${Number(expiresAt) + 86_400}.${mac}`;
    const forged = await workerPost(mine.id, extended, "heartbeat", { epoch: job.lease.epoch });
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatchObject({ type: "authentication_error" });
    expect(await getJob(other.id)).toMatchObject({ status: "queued", started_at: null });
  });
});
