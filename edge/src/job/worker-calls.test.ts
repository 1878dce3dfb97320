/**
 * The worker calls against a fake of the seams they declare (WorkerCallParts), with no Durable Object: the
 * row and the schedule live in plain maps, and `transition` is the real state machine step over them.
 */
import { describe, expect, it } from "vitest";
import type { EdgeConfig } from "../config/config.ts";
import type { JobRecord } from "./job-record.ts";
import type { TaskSchedule } from "./job-seams.ts";
import { newJobRecord } from "./new-job.ts";
import { nextStatus } from "./state-machine.ts";
import { TASK } from "./tasks.ts";
import { fail, heartbeat, lease, type WorkerCallParts } from "./worker-calls.ts";

const STALL_TIMEOUT_MS = 30_000;

function fakeJob(nowMs: number): WorkerCallParts & { tasks: Map<string, number> } {
  const input = {
    tenantId: "tenant_fake",
    requestHash: "hash",
    model: "demo",
    prompt: "In the beginning",
    params: { max_tokens: 64, seed: 1 } as JobRecord["params"],
    metadata: {},
    webhook: null,
    baseUrl: "https://edge.example",
    retentionMs: null,
    requestId: null,
    ttlMs: null,
    timeoutMs: null,
    priority: 1,
  };
  let row: JobRecord = newJobRecord("gen_fake", input, 60_000, nowMs);
  const tasks = new Map<string, number>();
  const schedule: TaskSchedule = {
    set: (task, dueAtMs) => void tasks.set(task, dueAtMs),
    setMany: (many) => {
      for (const [task, dueAtMs] of Object.entries(many)) tasks.set(task, dueAtMs);
    },
    clear: (task) => void tasks.delete(task),
    dueAt: (task) => tasks.get(task) ?? null,
    due: (atMs) => [...tasks].filter(([, dueAt]) => dueAt <= atMs).map(([task, dueAt]) => ({ task, dueAt })),
    arm: async () => {},
    armNew: async () => {},
  };
  const update = (patch: Partial<JobRecord>) => {
    row = { ...row, ...patch };
  };
  return {
    tasks,
    config: { stallTimeoutMs: STALL_TIMEOUT_MS } as EdgeConfig,
    now: () => nowMs,
    readJob: () => row,
    jobFor: (tenantId) => (row.tenantId === tenantId ? row : null),
    update,
    schedule,
    transition: (job, transition, patch = {}) => {
      const status = nextStatus(job.status, transition);
      if (status === null) return null;
      update({ ...patch, status });
      return row;
    },
    blocks: { entry: () => null, committedTokenIds: () => [] },
  };
}

describe("worker calls on their own seams", () => {
  it("a lease starts the job, renews the lease and schedules the stall check", () => {
    const job = fakeJob(1_000);
    const result = lease(job, { worker_id: "w1" } as Parameters<typeof lease>[1]);
    expect(result).toMatchObject({ ok: true, reply: { epoch: 1, status: "running", committed_blocks: 0 } });
    expect(job.readJob()).toMatchObject({ status: "running", workerId: "w1", startedAt: 1_000 });
    expect(job.tasks.get(TASK.stall)).toBe(1_000 + STALL_TIMEOUT_MS);
  });

  it("a heartbeat with another epoch is fenced and changes nothing", () => {
    const job = fakeJob(1_000);
    lease(job, { worker_id: "w1" } as Parameters<typeof lease>[1]);
    const before = job.readJob();
    expect(heartbeat(job, { epoch: 7 } as Parameters<typeof heartbeat>[1])).toMatchObject({
      ok: false,
      code: "stale_epoch",
    });
    expect(job.readJob()).toEqual(before);
  });

  it("a retryable failure requeues the job and clears its stall check", () => {
    const job = fakeJob(1_000);
    lease(job, { worker_id: "w1" } as Parameters<typeof lease>[1]);
    const request = { epoch: 1, code: "worker_error", message: "oom", is_retryable: true };
    expect(fail(job, request as Parameters<typeof fail>[1])).toEqual({ ok: true, reply: { status: "queued" } });
    expect(job.readJob()).toMatchObject({ status: "queued", retryableFailures: 1, leaseExpiresAt: null });
    expect(job.tasks.has(TASK.stall)).toBe(false);
  });
});
