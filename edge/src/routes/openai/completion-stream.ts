import { type Block, BlockSchema, type JobSummary, JobSummarySchema, type JobView, sseEvents } from "@bd3-serve/shared";
import { chunkOf, createdSeconds, usageOf } from "./completion-view.ts";

/**
 * `stream: true`: the job's block events (the job object's `/stream`, the same reader-paced SSE and reader
 * caps as `GET /v1/generations/:id/stream`) re-framed as OpenAI chunks: one `data:` chunk per block, a last
 * chunk with the finish reason, a usage chunk (`choices: []`) when `stream_options.include_usage`, then
 * `data: [DONE]`. The object closes an SSE connection after about a minute at the tail; this reopens it after
 * the last block it forwarded, so a long completion streams to its end without a gap or a repeat. A job that
 * failed ends the stream with an `error` chunk (OpenAI's streaming error shape) and no `[DONE]`.
 */

export type OpenBlockEvents = (afterIndex: number, signal: AbortSignal) => Promise<Response>;

const encoder = new TextEncoder();
/** Reopens of the job's stream without progress before giving up (each waits the object's own timeouts). */
const STALLED_REOPENS_MAX = 5;

function data(payload: unknown): Uint8Array {
  return encoder.encode(`data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`);
}

export function completionStream(
  job: JobView,
  includeUsage: boolean,
  open: OpenBlockEvents,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const meta = { id: job.id, model: job.model, created: createdSeconds(job) };
  let lastIndex = -1;
  let pending: AsyncIterator<{ block?: Block; done?: JobSummary }> | null = null;
  let stalledReopens = 0;
  const abort = new AbortController();
  signal.addEventListener("abort", () => abort.abort(), { once: true });

  async function* events(): AsyncGenerator<{ block?: Block; done?: JobSummary }> {
    for (;;) {
      const response = await open(lastIndex, abort.signal);
      if (response.status !== 200 || response.body === null) {
        throw new Error(`the job's stream answered ${response.status}`);
      }
      const before = lastIndex;
      for await (const event of sseEvents(response.body)) {
        if (event.event === "block") yield { block: BlockSchema.parse(JSON.parse(event.data)) };
        else if (event.event === "done") {
          yield { done: JobSummarySchema.parse(JSON.parse(event.data)) };
          return;
        }
      }
      stalledReopens = lastIndex === before ? stalledReopens + 1 : 0;
      if (stalledReopens > STALLED_REOPENS_MAX) throw new Error("the job's stream made no progress");
    }
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        pending ??= events();
        try {
          const next = await pending.next();
          if (next.done) {
            controller.close();
            return;
          }
          const { block, done } = next.value;
          if (block !== undefined) {
            if (block.index <= lastIndex) return; // already forwarded (a reopen overlaps by design of after=)
            lastIndex = block.index;
            controller.enqueue(data(chunkOf(meta, block.text, null)));
            return;
          }
          if (done === undefined) return;
          if (done.status === "failed" || done.status === "expired") {
            const message = done.error?.message ?? `the generation ended ${done.status}`;
            controller.enqueue(data({ error: { type: "api_error", code: done.error?.code ?? done.status, message } }));
            controller.close();
            return;
          }
          controller.enqueue(data(chunkOf(meta, "", done.finish_reason ?? "canceled")));
          if (includeUsage) {
            const { choices: _choices, ...rest } = chunkOf(meta, "", null);
            controller.enqueue(data({ ...rest, choices: [], usage: usageOf(done) }));
          }
          controller.enqueue(data("[DONE]"));
          controller.close();
        } catch (error) {
          controller.enqueue(data({ error: { type: "api_error", message: String(error).slice(0, 300) } }));
          controller.close();
        }
      },
      cancel() {
        abort.abort();
      },
    },
    { highWaterMark: 0 },
  );
}
