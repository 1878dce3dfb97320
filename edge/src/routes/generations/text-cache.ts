import { TEXT_CACHE_HEADER } from "../../job/document-reads.ts";

/**
 * The edge's cache of document history (Cloudflare's cache through the Workers Cache API; Miniflare's in
 * local development). A catch-up page of `/v1/generations/:id/text` that can never change (the job object
 * marks it `immutable`: below the tail, or the end of a closed document) is kept per tenant and offset, so
 * readers catching up on the same history are answered at the edge without reaching the job's object.
 *
 * Auth still applies: the route authenticates the caller before it looks here, and the key names the
 * caller's tenant, so a page is only ever served to the tenant it was read by. Entries live as long as the
 * object allowed (a day at most, never past the job's retention). Live reads and the open tail bypass it.
 */

const CACHE_ORIGIN = "https://text-cache.bd3.internal";
const IMMUTABLE = /\bimmutable\b/;

function keyOf(tenantId: string, jobId: string, offset: string): Request {
  const url = new URL(`${CACHE_ORIGIN}/${encodeURIComponent(tenantId)}/${encodeURIComponent(jobId)}`);
  url.searchParams.set("offset", offset);
  return new Request(url);
}

/** Only plain catch-up GETs by one offset are cacheable; live modes and anything odd go to the object. */
export function cacheableOffset(method: string, query: URLSearchParams): string | null {
  if (method !== "GET" || query.has("live") || query.getAll("offset").length > 1) return null;
  const offset = query.get("offset") ?? "-1";
  return offset === "now" || offset === "" ? null : offset;
}

export async function cachedPage(
  tenantId: string,
  jobId: string,
  offset: string,
  ifNoneMatch: string | undefined,
): Promise<Response | null> {
  const hit = await cacheStore()?.match(keyOf(tenantId, jobId, offset));
  if (hit === undefined || hit === null) return null;
  const headers = new Headers(hit.headers);
  headers.set("Cache-Control", headers.get(PRIVATE_CACHE_CONTROL_HEADER) ?? "private");
  headers.delete(PRIVATE_CACHE_CONTROL_HEADER);
  headers.set(TEXT_CACHE_HEADER, "hit");
  if (ifNoneMatch !== undefined && ifNoneMatch === headers.get("ETag")) {
    await hit.body?.cancel();
    return new Response(null, { status: 304, headers });
  }
  return new Response(hit.body, { status: 200, headers });
}

/**
 * Answers an immutable page through the cache: the object's page goes into the cache first and the client is
 * answered from the stored copy. Not a `tee()`: a tee buffers everything the faster branch (the cache) took
 * for the slower one (a client that reads slowly, or not at all), so a paused reader would pin a whole page
 * in the isolate; this way each side is paced by its own reader. If the cache keeps nothing (it may refuse or
 * evict at once) the page is read from the object again with `reread`. Anything not cacheable passes through.
 */
export async function servePageThroughCache(
  tenantId: string,
  jobId: string,
  offset: string,
  response: Response,
  reread: () => Promise<Response>,
): Promise<Response> {
  const cacheControl = response.headers.get("Cache-Control") ?? "";
  const store = cacheStore();
  if (response.status !== 200 || !IMMUTABLE.test(cacheControl) || store === undefined) return response;
  const maxAge = /max-age=(\d+)/.exec(cacheControl)?.[1] ?? "0";
  if (maxAge === "0") return response;
  const headers = new Headers(response.headers);
  // The Cache API keeps only shared-cacheable answers; the private directive is restored on the way out.
  headers.set(PRIVATE_CACHE_CONTROL_HEADER, cacheControl);
  headers.set("Cache-Control", `public, max-age=${maxAge}`);
  const key = keyOf(tenantId, jobId, offset);
  try {
    await store.put(key, new Response(response.body, { status: 200, headers }));
  } catch (error) {
    console.warn(JSON.stringify({ event: "text_cache_put_failed", job_id: jobId, error: String(error) }));
    return reread();
  }
  const stored = await cachedPage(tenantId, jobId, offset, undefined);
  if (stored === null) return reread();
  // The first reader of a page is not a cache hit, though its bytes came through the cache.
  stored.headers.delete(TEXT_CACHE_HEADER);
  return stored;
}

/** Where a cached page keeps the Cache-Control the object gave it (the stored copy must say `public`). */
const PRIVATE_CACHE_CONTROL_HEADER = "Bd3-Client-Cache-Control";

function cacheStore(): Cache | undefined {
  return (globalThis as { caches?: { default?: Cache } }).caches?.default;
}
