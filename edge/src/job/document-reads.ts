import { handleStreamRequest, type StreamRoomOptions } from "../stream/index.ts";
import { STREAM_SSE_CONNECTION_MAX_MS } from "../stream/limits.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobContent, JobContext } from "./job-seams.ts";
import { retentionMsOf } from "./job-view.ts";

/** Says whether a text page came from the edge's cache (`hit`). */
export const TEXT_CACHE_HEADER = "Bd3-Cache";
/** History may be cached for at most a day. */
const HISTORY_MAX_AGE_SECONDS = 86_400;

/**
 * History of a job's document never changes: a range below the tail, or one that ends the closed document,
 * may be kept by the tenant's own client (`private`: shared caches must not serve it to anyone else; the
 * edge's own cache is keyed by tenant, see routes/generations/text-cache.ts) for a day, or until the job's
 * retention deletes the text if that comes sooner, so no cache serves text past its retention. The open tail
 * is never cached.
 */
export function historyCacheControl(job: JobRecord, retentionMs: number, nowMs: number): string {
  const purgeAtMs = job.finishedAt === null ? null : job.finishedAt + retentionMs;
  const untilPurgeSeconds = purgeAtMs === null ? HISTORY_MAX_AGE_SECONDS : Math.floor((purgeAtMs - nowMs) / 1_000);
  const maxAge = Math.max(0, Math.min(HISTORY_MAX_AGE_SECONDS, untilPurgeSeconds));
  return `private, max-age=${maxAge}, immutable`;
}

/** What a document read uses of a job: its stream room and the wake-up of its live readers. */
export interface DocumentReadParts extends JobContext {
  readonly document: Pick<JobContent["document"], "streams">;
  readonly notifier: JobContent["notifier"];
}

/**
 * `GET|HEAD /v1/generations/:id/text`: the job's document through the stream room's protocol handler,
 * read-only (writes are 405: only the lease holder writes, through its block stream). Offsets, pages,
 * long-poll, SSE, ETag/304 and `Stream-Closed` once the job is terminal are the protocol's.
 */
export function readDocument(parts: DocumentReadParts, job: JobRecord, request: Request): Promise<Response> {
  const options: StreamRoomOptions = {
    store: parts.document.streams,
    notifier: parts.notifier,
    now: () => parts.now(),
    longPollTimeoutMs: parts.config.streamLongPollMs,
    sseConnectionMaxMs: STREAM_SSE_CONNECTION_MAX_MS,
    access: "read-only",
    historyCacheControl: historyCacheControl(job, retentionMsOf(job, parts.config), parts.now()),
    cors: false,
    urlOf: () => request.url,
  };
  return handleStreamRequest(request, DOCUMENT_STREAM, options);
}
