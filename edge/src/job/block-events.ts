import { isTerminalJobStatus } from "@bd3-serve/shared";
import { SSE_BLOCKS_PER_PULL, SSE_PULL_MAX_BYTES } from "../config/constants.ts";
import { formatSseComment, formatSseEvent, formatSseRetry } from "../sse/framing.ts";
import { STREAM_SSE_CONNECTION_MAX_MS } from "../stream/limits.ts";
import type { BlockEntry, BlockLog } from "./block-log.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";
import type { JobContent, JobRows, ViewSources } from "./job-seams.ts";
import { summaryOf } from "./job-view.ts";

/** How long an EventSource waits before reconnecting after the stream drops, in milliseconds. */
const RECONNECT_DELAY_MS = 2_000;

/** Response headers of an SSE stream: no caching, no proxy buffering. */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  "X-Accel-Buffering": "no",
};

const encoder = new TextEncoder();

/** What the block events read of a job: its row, the block log, the document's wake-up, the summary's sources. */
export interface BlockEventParts extends Pick<JobRows, "jobFor">, ViewSources {
  readonly blocks: Pick<BlockLog, "entriesAfter" | "blockOf">;
  readonly notifier: Pick<JobContent["notifier"], "wait">;
}

/**
 * The job's blocks as server-sent events (`GET /v1/generations/:id/stream`): every block after `after` as
 * `event: block` with its index as `id`, then live blocks, then `done` with the job summary, always last.
 *
 * Paced by the reader: the body is a pull-based stream that reads the next SSE_BLOCKS_PER_PULL blocks from
 * the block log only when the client has taken the previous ones, so catch-up of any length holds one page
 * in memory and never drops a frame. At the tail it waits for the document's wake-up, with a keep-alive
 * comment every `keepaliveMs`. `done` is sent only after a read found no block past the last one sent and
 * the job terminal, and no block can be committed after that, so `done` is never followed by a block.
 */
export function blockEventStream(
  parts: BlockEventParts,
  tenantId: string,
  after: number,
  keepaliveMs: number,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  let lastSent = after;
  let hasStarted = false;
  // Closed after about a minute at the tail, like the text stream's SSE: the client reconnects with
  // Last-Event-ID, and a live reader's slot (job/live-readers.ts) is never held for longer than that.
  const closeAtMs = Date.now() + STREAM_SSE_CONNECTION_MAX_MS;
  const abort = new AbortController();
  signal.addEventListener("abort", () => abort.abort(), { once: true });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let frames = hasStarted ? "" : formatSseRetry(RECONNECT_DELAY_MS);
        hasStarted = true;
        for (;;) {
          const job = parts.jobFor(tenantId);
          if (job === null || abort.signal.aborted) {
            if (frames !== "") controller.enqueue(encoder.encode(frames));
            controller.close();
            return;
          }
          const entries = parts.blocks.entriesAfter(lastSent, SSE_BLOCKS_PER_PULL);
          if (entries.length > 0) {
            let pageBytes = 0;
            for (const entry of entries) {
              frames += blockFrame(parts, entry);
              lastSent = entry.index;
              pageBytes += entry.endByte - entry.startByte;
              if (pageBytes >= SSE_PULL_MAX_BYTES) break;
            }
            controller.enqueue(encoder.encode(frames));
            return;
          }
          if (isTerminalJobStatus(job.status)) {
            controller.enqueue(
              encoder.encode(frames + formatSseEvent({ event: "done", data: JSON.stringify(summaryOf(parts, job)) })),
            );
            controller.close();
            return;
          }
          if (frames !== "") {
            controller.enqueue(encoder.encode(frames));
            return;
          }
          const remainingMs = closeAtMs - Date.now();
          if (remainingMs <= 0) {
            controller.close();
            return;
          }
          const isWoken = await parts.notifier.wait(DOCUMENT_STREAM, Math.min(keepaliveMs, remainingMs), abort.signal);
          if (!isWoken && !abort.signal.aborted) frames = formatSseComment("keep-alive");
        }
      },
      cancel() {
        abort.abort();
      },
    },
    { highWaterMark: 0 },
  );
}

function blockFrame(parts: BlockEventParts, entry: BlockEntry): string {
  return formatSseEvent({ id: String(entry.index), event: "block", data: JSON.stringify(parts.blocks.blockOf(entry)) });
}
