import {
  AppendBlockReplySchema,
  ErrorBodySchema,
  HeartbeatReplySchema,
  JobStatusReplySchema,
  LEASE_TERM_SECONDS,
  LeaseReplySchema,
} from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob, json } from "./helpers/api.ts";
import { append, blockOf, capabilityFor, finish, lease, takeOver, workerCall } from "./helpers/worker.ts";

async function expectRefused(response: Response, status: number, code?: string) {
  expect(response.status).toBe(status);
  const body = ErrorBodySchema.parse(await response.json());
  if (code !== undefined) expect(body.error).toMatchObject({ type: "conflict_error", code });
  return body;
}

describe("worker API authorisation", () => {
  it("refuses a missing, malformed or other job's capability with 401", async () => {
    const job = await createJob();
    const other = await createJob();
    const stolen = await capabilityFor(other.id);
    await expectRefused(await workerCall(job.id, "lease", { worker_id: "w" }, stolen), 401);
    await expectRefused(await workerCall(job.id, "lease", { worker_id: "w" }, "short"), 401);
    const none = await call("POST", `/internal/v1/jobs/${job.id}/lease`, { key: null, body: { worker_id: "w" } });
    await expectRefused(none, 401);
    const apiKey = await call("POST", `/internal/v1/jobs/${job.id}/lease`, {
      key: "tenantA",
      body: { worker_id: "w" },
    });
    await expectRefused(apiKey, 401);
  });

  it("answers 404 for a well-signed capability of a job that does not exist", async () => {
    await expectRefused(await workerCall("gen_unknown", "lease", { worker_id: "w" }), 404);
    await expectRefused(await workerCall(`gen_${"a".repeat(64)}`, "lease", { worker_id: "w" }), 404);
  });

  it("refuses bodies that do not match the shared schemas with 400 naming the field", async () => {
    const job = await createJob();
    const body = ErrorBodySchema.parse(await json(await workerCall(job.id, "lease", { worker: "w" })));
    expect(body.error.type).toBe("invalid_request_error");
    const { epoch } = await lease(job.id);
    const noEpoch = await workerCall(job.id, "blocks", { ...blockOf(0) });
    expect(ErrorBodySchema.parse(await json(noEpoch)).error.param).toBe("epoch");
    const mismatch = await workerCall(job.id, "blocks", { epoch, ...blockOf(0), token_ids: [1] });
    expect(mismatch.status).toBe(400);
    expect(ErrorBodySchema.parse(await json(mismatch)).error.param).toBe("token_ids");
  });
});

describe("lease", () => {
  it("starts the job and returns a new epoch with everything committed", async () => {
    const job = await createJob();
    const first = LeaseReplySchema.parse(await lease(job.id));
    expect(first).toEqual({
      epoch: 1,
      status: "running",
      committed_blocks: 0,
      committed_token_ids: [],
      is_canceled: false,
      final_finish_reason: null,
    });
    await append(job.id, 1, 0, "ab");
    await append(job.id, 1, 1, "c");
    const second = LeaseReplySchema.parse(await takeOver(job.id, "worker-2"));
    expect(second).toMatchObject({ epoch: 2, committed_blocks: 2, committed_token_ids: [97, 98, 99] });
    const view = await json(await call("GET", `/v1/generations/${job.id}`));
    expect(view.status).toBe("running");
    expect(view.started_at).not.toBeNull();
  });

  it("returns the finish reason appended with the last block, and leaves it out when there is none", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0, "ab");
    const midway = await takeOver(job.id, "worker-2");
    expect(midway).not.toHaveProperty("final_finish_reason");
    await append(job.id, midway.epoch, 1, "c", "stop_sequence");
    const ended = LeaseReplySchema.parse(await takeOver(job.id, "worker-3"));
    expect(ended).toMatchObject({ committed_blocks: 2, committed_token_ids: [97, 98, 99] });
    expect(ended.final_finish_reason).toBe("stop_sequence");
  });

  it("refuses a finished job with job_terminal", async () => {
    const job = await createJob();
    await call("POST", `/v1/generations/${job.id}/cancel`);
    await expectRefused(await workerCall(job.id, "lease", { worker_id: "w" }), 409, "job_terminal");
  });
});

describe("append", () => {
  it("is idempotent by index and refuses gaps and conflicting content", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    expect(AppendBlockReplySchema.parse(await json(await append(job.id, epoch, 0)))).toEqual({
      result: "appended",
      committed_blocks: 1,
      is_canceled: false,
    });
    expect(await json(await append(job.id, epoch, 0))).toMatchObject({ result: "duplicate", committed_blocks: 1 });
    await expectRefused(await append(job.id, epoch, 0, "other text"), 409, "block_conflict");
    await expectRefused(await append(job.id, epoch, 2), 409, "block_gap");
    expect(await json(await append(job.id, epoch, 1))).toMatchObject({ result: "appended", committed_blocks: 2 });
  });

  it("compares the finish reason of a duplicate append: another one is a block_conflict", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0);
    expect(await json(await append(job.id, epoch, 1, undefined, "eos"))).toMatchObject({ result: "appended" });
    expect(await json(await append(job.id, epoch, 1, undefined, "eos"))).toMatchObject({ result: "duplicate" });
    await expectRefused(await append(job.id, epoch, 1, undefined, "max_tokens"), 409, "block_conflict");
    await expectRefused(await append(job.id, epoch, 1), 409, "block_conflict");
    await expectRefused(await append(job.id, epoch, 0, undefined, "eos"), 409, "block_conflict");
    expect(await json(await append(job.id, epoch, 0))).toMatchObject({ result: "duplicate" });
  });

  it("refuses a block after one that ended the generation with generation_ended", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0);
    expect(await json(await append(job.id, epoch, 1, undefined, "max_tokens"))).toMatchObject({ result: "appended" });
    await expectRefused(await append(job.id, epoch, 2), 409, "generation_ended");
    await expectRefused(await append(job.id, epoch, 2, undefined, "eos"), 409, "generation_ended");
    expect(await json(await append(job.id, epoch, 1, undefined, "max_tokens"))).toMatchObject({ result: "duplicate" });
    const later = LeaseReplySchema.parse(await takeOver(job.id, "worker-2"));
    await expectRefused(await append(job.id, later.epoch, 2), 409, "generation_ended");
    expect(JobStatusReplySchema.parse(await json(await finish(job.id, later.epoch))).status).toBe("succeeded");
    const page = await json(await call("GET", `/v1/generations/${job.id}/blocks`));
    expect(page.data).toHaveLength(2);
  });

  it("refuses an append before any lease with not_leased", async () => {
    const job = await createJob();
    await expectRefused(await append(job.id, 1, 0), 409, "not_leased");
    await expectRefused(await workerCall(job.id, "heartbeat", { epoch: 1 }), 409, "not_leased");
    await expectRefused(await finish(job.id, 1), 409, "not_leased");
  });

  it("fences a worker whose lease was taken over (stale_epoch)", async () => {
    const job = await createJob();
    const old = await lease(job.id, "worker-old");
    await append(job.id, old.epoch, 0);
    const current = await takeOver(job.id, "worker-new");
    await expectRefused(await append(job.id, old.epoch, 1), 409, "stale_epoch");
    await expectRefused(await append(job.id, old.epoch, 0), 409, "stale_epoch");
    await expectRefused(await workerCall(job.id, "heartbeat", { epoch: old.epoch }), 409, "stale_epoch");
    await expectRefused(await finish(job.id, old.epoch), 409, "stale_epoch");
    await expectRefused(await append(job.id, current.epoch + 1, 1), 409, "stale_epoch");
    expect((await append(job.id, current.epoch, 1)).status).toBe(200);
  });

  it("commits exactly one of two concurrent appends of the same index", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    const replies = await Promise.all([append(job.id, epoch, 0), append(job.id, epoch, 0), append(job.id, epoch, 0)]);
    const results = await Promise.all(replies.map((reply) => json(reply)));
    expect(results.map((r) => r.result).sort()).toEqual(["appended", "duplicate", "duplicate"]);
    const conflicting = await Promise.all([append(job.id, epoch, 1, "one"), append(job.id, epoch, 1, "two")]);
    expect(conflicting.map((r) => r.status).sort()).toEqual([200, 409]);
    const view = await json(await call("GET", `/v1/generations/${job.id}`));
    expect(view.progress).toMatchObject({ blocks: 2 });
  });

  it("grants one of two racing leases; the other is lease_held with the lease's remaining term", async () => {
    const job = await createJob();
    const replies = await Promise.all(["a", "b"].map((id) => workerCall(job.id, "lease", { worker_id: id })));
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409]);
    const refused = replies.find((reply) => reply.status === 409)!;
    const retryAfterSeconds = Number(refused.headers.get("Retry-After"));
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(LEASE_TERM_SECONDS);
    expect(ErrorBodySchema.parse(await refused.json()).error.code).toBe("lease_held");
    const { epoch } = await json<{ epoch: number }>(replies.find((reply) => reply.status === 200)!);
    expect(epoch).toBe(1);
    expect((await append(job.id, epoch, 0, "only")).status).toBe(200);
    expect((await json(await call("GET", `/v1/generations/${job.id}`))).text).toBe("only");
  });

  it("refuses another worker's lease while the lease is live, and grants it once the lease lapsed", async () => {
    const job = await createJob();
    const old = await lease(job.id, "worker-old");
    await expectRefused(await workerCall(job.id, "lease", { worker_id: "worker-new" }), 409, "lease_held");
    const current = await takeOver(job.id, "worker-new");
    expect(current.epoch).toBe(old.epoch + 1);
    await expectRefused(await workerCall(job.id, "heartbeat", { epoch: old.epoch }), 409, "stale_epoch");
  });

  it("lets the holder lease again (a retried lease), and a released lease go to the next worker at once", async () => {
    const job = await createJob();
    const first = await lease(job.id, "worker-1");
    const again = await lease(job.id, "worker-1");
    expect(again.epoch).toBe(first.epoch + 1);
    expect(await json(await workerCall(job.id, "release", { epoch: first.epoch }))).toMatchObject({
      error: { code: "stale_epoch" },
    });
    expect(await json(await workerCall(job.id, "release", { epoch: again.epoch }))).toEqual({ status: "running" });
    const next = await lease(job.id, "worker-2");
    expect(next.epoch).toBe(again.epoch + 1);
  });
});

describe("heartbeat, finish and fail", () => {
  it("heartbeats while running and reports the cancel flag", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    expect(HeartbeatReplySchema.parse(await json(await workerCall(job.id, "heartbeat", { epoch })))).toEqual({
      status: "running",
      is_canceled: false,
    });
    await call("POST", `/v1/generations/${job.id}/cancel`);
    expect(await json(await workerCall(job.id, "heartbeat", { epoch }))).toEqual({
      status: "running",
      is_canceled: true,
    });
  });

  it("finishes once; a retried finish answers the final status and later calls are job_terminal", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    await append(job.id, epoch, 0);
    expect(JobStatusReplySchema.parse(await json(await finish(job.id, epoch)))).toEqual({ status: "succeeded" });
    expect(await json(await finish(job.id, epoch, "max_tokens"))).toEqual({ status: "succeeded" });
    await expectRefused(await append(job.id, epoch, 1), 409, "job_terminal");
    await expectRefused(await workerCall(job.id, "heartbeat", { epoch }), 409, "job_terminal");
    const view = await json(await call("GET", `/v1/generations/${job.id}`));
    expect(view).toMatchObject({
      status: "succeeded",
      finish_reason: "eos",
      // The edge counts the completion tokens itself (one committed block of 9); the worker said 10.
      usage: { prompt_tokens: 3, completion_tokens: 9, forwards: 20 },
    });
    expect(view.finished_at).not.toBeNull();
  });

  it("fails a job with the worker's error and never changes it afterwards", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    const failed = await workerCall(job.id, "fail", { epoch, code: "oom", message: "out of memory" });
    expect(await json(failed)).toEqual({ status: "failed" });
    expect(await json(await finish(job.id, epoch))).toEqual({ status: "failed" });
    const view = await json(await call("GET", `/v1/generations/${job.id}`));
    expect(view).toMatchObject({ status: "failed", finish_reason: "error", error: { code: "oom" } });
  });

  it("puts a retryable failure back in the queue, fenced like any call", async () => {
    const job = await createJob();
    const { epoch } = await lease(job.id);
    const body = { epoch, code: "preempted", message: "node drained", is_retryable: true };
    expect(await json(await workerCall(job.id, "fail", body))).toEqual({ status: "queued" });
    await expectRefused(await append(job.id, epoch, 0), 409, "not_leased");
    expect((await lease(job.id)).epoch).toBe(epoch + 1);
  });

  it("fails a never-leased job without an epoch but refuses that on a leased one", async () => {
    const fresh = await createJob();
    const failed = await workerCall(fresh.id, "fail", { code: "bad_message", message: "version 9" });
    expect(await json(failed)).toEqual({ status: "failed" });
    const leased = await createJob();
    await lease(leased.id);
    const refused = await workerCall(leased.id, "fail", { code: "bad_message", message: "version 9" });
    await expectRefused(refused, 409, "stale_epoch");
  });
});
