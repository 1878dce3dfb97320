import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { jobNotFound } from "../../errors/api-error.ts";
import { jobStub, objectIdOfJob } from "../../job/job-id.ts";

/** The job object behind `:id`, or a 404 (malformed, forged, or another tenant's id all look alike). */
export function stubOf(c: Context<AppEnv>, id: string) {
  const objectId = objectIdOfJob(c.env, id);
  if (objectId === null) throw jobNotFound(id);
  return jobStub(c.env, objectId);
}
