import type { Env } from "../env.ts";

/**
 * Public job ids are `gen_` + the Durable Object id in hex, so an id alone finds its object. A forged or
 * mistyped id fails `idFromString` (the id carries a namespace MAC) and becomes a 404, never a new object.
 */
const JOB_ID_PATTERN = /^gen_([0-9a-f]{64})$/;
const IDEMPOTENCY_NAME_VERSION = "v1";

export function jobIdOf(objectId: DurableObjectId): string {
  return `gen_${objectId.toString()}`;
}

export function objectIdOfJob(env: Env, jobId: string): DurableObjectId | null {
  const match = JOB_ID_PATTERN.exec(jobId);
  if (!match?.[1]) return null;
  try {
    return env.JOBS.idFromString(match[1]);
  } catch {
    return null;
  }
}

/** The object of a create: derived from tenant and Idempotency-Key when given, so a retry finds the same job. */
export function objectIdForCreate(env: Env, tenantId: string, idempotencyKey: string | undefined): DurableObjectId {
  if (idempotencyKey === undefined) return env.JOBS.newUniqueId();
  return env.JOBS.idFromName(`idempotency:${IDEMPOTENCY_NAME_VERSION}:${tenantId}:${idempotencyKey}`);
}

export function jobStub(env: Env, objectId: DurableObjectId) {
  return env.JOBS.get(objectId);
}
