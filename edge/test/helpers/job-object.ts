import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { ManualClock } from "../../src/job/clock.ts";
import { objectIdForCreate, objectIdOfJob } from "../../src/job/job-id.ts";
import { TEST_KEYS } from "../test-keys.ts";
import type { TestKey } from "./api.ts";

/** A year ahead: alarms armed on the manual clock never fire on their own during a test run. */
const FAR_FUTURE_MS = 365 * 86_400_000;

export function stubOfJob(jobId: string) {
  const objectId = objectIdOfJob(env, jobId);
  if (objectId === null) throw new Error(`not a job id: ${jobId}`);
  return env.JOBS.get(objectId);
}

/** The object a create with this Idempotency-Key will use (to prepare it before the create). */
export function stubForKey(key: TestKey, idempotencyKey: string) {
  return env.JOBS.get(objectIdForCreate(env, TEST_KEYS[key].tenantId, idempotencyKey));
}

type Stub = ReturnType<typeof stubOfJob>;

/**
 * Gives the object a manual clock a year ahead. Alarms it arms are then far in the future, so they run
 * only when a test calls runDurableObjectAlarm, after moving the clock with `advanceClock`.
 */
export async function useManualClock(stub: Stub): Promise<void> {
  await runInDurableObject(stub, (instance) => {
    instance.core.clock = new ManualClock(Date.now() + FAR_FUTURE_MS);
  });
}

export async function advanceClock(stub: Stub, ms: number): Promise<void> {
  await runInDurableObject(stub, (instance) => {
    const { clock } = instance.core;
    if (!(clock instanceof ManualClock)) throw new Error("call useManualClock first");
    clock.advance(ms);
  });
}

export async function scheduledTasks(stub: Stub): Promise<Record<string, number>> {
  return runInDurableObject(stub, (_instance, state) =>
    Object.fromEntries(
      state.storage.sql
        .exec<{ task: string; due_at: number }>("SELECT task, due_at FROM schedule")
        .toArray()
        .map((row) => [row.task, row.due_at]),
    ),
  );
}

export async function clockNow(stub: Stub): Promise<number> {
  return runInDurableObject(stub, (instance) => instance.core.now());
}

/**
 * Makes the job's current lease lapse, as if its holder had stopped calling one lease term ago (a crashed
 * worker), so another worker's lease is granted.
 */
export async function lapseLease(jobId: string): Promise<void> {
  await runInDurableObject(stubOfJob(jobId), (instance) => {
    instance.core.store.update({ leaseExpiresAt: 0 });
  });
}

/** Waits for the object's background work (the first SQS send after a create) to finish. */
export async function settled(stub: Stub): Promise<void> {
  await runInDurableObject(stub, (instance) => instance.core.idle());
}
