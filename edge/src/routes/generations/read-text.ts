import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { jobGone, jobNotFound } from "../../errors/api-error.ts";
import { JOB_MISSING_HEADER } from "../../job/job-rpc.ts";
import { stubOf } from "./job-stub.ts";
import { cacheableOffset, cachedPage, servePageThroughCache } from "./text-cache.ts";

/**
 * `GET|HEAD /v1/generations/:id/text`: forwards the read to the job object (document-reads.ts), which
 * answers with the Durable Streams protocol. The caller's query (`offset`, `live`, `cursor`) and
 * `If-None-Match` go along; the tenant is the authenticated caller's, set here so a query cannot name
 * another one. An unknown or foreign id is a 404 and a job past its retention a 410, as on every route.
 * Immutable history pages are answered from, and kept in, the edge's cache (text-cache.ts).
 */
export async function readText(c: Context<AppEnv>, id: string): Promise<Response> {
  const { tenantId } = c.var.caller;
  const query = new URL(c.req.url).searchParams;
  const ifNoneMatch = c.req.header("If-None-Match");
  const cacheOffset = cacheableOffset(c.req.method, query);
  if (cacheOffset !== null) {
    const hit = await cachedPage(tenantId, id, cacheOffset, ifNoneMatch);
    if (hit !== null) return hit;
  }
  query.set("tenant", tenantId);
  query.delete("stream_token");
  const readFromObject = async () => {
    const headers = new Headers();
    if (ifNoneMatch !== undefined) headers.set("If-None-Match", ifNoneMatch);
    const response = await stubOf(c, id).fetch(`https://job.internal/text?${query}`, {
      method: c.req.method,
      headers,
      signal: c.req.raw.signal,
    });
    const missing = response.headers.get(JOB_MISSING_HEADER);
    if (missing === "not_found") throw jobNotFound(id);
    if (missing === "gone") throw jobGone(id);
    return response;
  };
  const response = await readFromObject();
  if (cacheOffset === null) return response;
  return servePageThroughCache(tenantId, id, cacheOffset, response, readFromObject);
}
