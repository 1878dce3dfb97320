import { handleStreamRequest, type StreamRoomOptions } from "../stream/index.ts";
import { STREAM_SSE_CONNECTION_MAX_MS } from "../stream/limits.ts";
import type { JobCore } from "./job-core.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";

/**
 * History of a job's document never changes: a range below the tail, or one that ends the closed document,
 * may be kept by the tenant's own client for a day (`private`: shared caches must not serve it to anyone
 * else; the edge's own cache is keyed by tenant, see routes/generations/text-cache.ts). The open tail is
 * never cached.
 */
export const DOCUMENT_HISTORY_CACHE_CONTROL = "private, max-age=86400, immutable";

/**
 * `GET|HEAD /v1/generations/:id/text`: the job's document through the stream room's protocol handler,
 * read-only (writes are 405: only the lease holder writes, through its block stream). Offsets, pages,
 * long-poll, SSE, ETag/304 and `Stream-Closed` once the job is terminal are the protocol's.
 */
export function readDocument(core: JobCore, request: Request): Promise<Response> {
  const options: StreamRoomOptions = {
    store: core.document.streams,
    notifier: core.notifier,
    now: () => core.now(),
    longPollTimeoutMs: core.config.streamLongPollMs,
    sseConnectionMaxMs: STREAM_SSE_CONNECTION_MAX_MS,
    access: "read-only",
    historyCacheControl: DOCUMENT_HISTORY_CACHE_CONTROL,
    cors: false,
    urlOf: () => request.url,
  };
  return handleStreamRequest(request, DOCUMENT_STREAM, options);
}
