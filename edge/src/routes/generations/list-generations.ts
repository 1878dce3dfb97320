import { JOB_LIST_LIMIT_DEFAULT, JOB_LIST_LIMIT_MAX, type JobListPage, JobStatusSchema } from "@bd3-serve/shared";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { parseWith } from "../../http/parse-body.ts";
import { intParam } from "../../http/query.ts";
import { jobStub, objectIdOfJob } from "../../job/job-id.ts";
import { decodeCursor, encodeCursor } from "../../tenant/cursor.ts";
import { tenantIndexStub } from "../../tenant/tenant-index-stub.ts";

/**
 * `GET /v1/generations?status=&limit=&cursor=`: the tenant's jobs, newest first. Ids and order come from
 * the tenant index object; each row's summary is read live from its job object, in parallel.
 */
export async function listGenerations(c: Context<AppEnv>): Promise<Response> {
  const { tenantId } = c.var.caller;
  const statusRaw = c.req.query("status");
  const status = statusRaw === undefined ? null : parseWith(JobStatusSchema, statusRaw, "status");
  const limit = intParam(c.req.query("limit"), "limit", {
    min: 1,
    max: JOB_LIST_LIMIT_MAX,
    fallback: JOB_LIST_LIMIT_DEFAULT,
  });
  const beforeSeq = decodeCursor(c.req.query("cursor"));
  const page = await tenantIndexStub(c.env, tenantId).list({ status, beforeSeq, limit });
  const summaries = await Promise.all(
    page.jobIds.map(async (jobId) => {
      const objectId = objectIdOfJob(c.env, jobId);
      return objectId ? jobStub(c.env, objectId).summary(tenantId) : null;
    }),
  );
  const body: JobListPage = {
    object: "list",
    data: summaries.filter((summary) => summary !== null),
    has_more: page.nextBeforeSeq !== null,
    next_cursor: page.nextBeforeSeq === null ? null : encodeCursor(page.nextBeforeSeq),
  };
  return c.json(body);
}
