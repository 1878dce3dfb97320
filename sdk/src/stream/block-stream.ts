/**
 * A generation's blocks over SSE (`GET /v1/generations/:id/stream`), across as many connections as it takes.
 * The state is the index of the last block handed to the caller: every (re)connection asks for the blocks
 * after it (`?after=` and, on reconnects, `Last-Event-ID`, which is what EventSource would send), blocks at
 * or below it are skipped (never yielded twice) and a block past the next index is a gap (never skipped:
 * the connection is dropped and resumed from the last index). The stream ends with the `done` event's job
 * summary, which is checked against the blocks seen (a summary counting more blocks than arrived is a gap
 * too).
 *
 * Reconnects on a network error, a silent connection (IdleWatchdog), a body that ends without `done` (the
 * server closes a live connection about every minute by design), a 408/429/5xx answer and a broken event.
 * A connection that delivered a block resumes at once; otherwise attempts back off (Retry-After first), and
 * after `maxReconnects` attempts in a row without a block the last error is thrown. Other 4xx answers
 * (401, 404, 410) are thrown at once.
 */
import { type Block, BlockSchema, type JobSummary, JobSummarySchema } from "@bd3-serve/shared";
import { AbortError, ApiError, Bd3Error, ConnectionError, StreamProtocolError } from "../errors.ts";
import { linkedController } from "../http/abort.ts";
import { isRetryableStatus, retryDelayMs } from "../http/backoff.ts";
import type { Transport } from "../http/transport.ts";
import type { SseMessage } from "../sse/parser.ts";
import { readSse } from "../sse/read-sse.ts";
import { IdleWatchdog } from "./idle-watchdog.ts";

export type StreamEvent = { type: "block"; block: Block } | { type: "done"; generation: JobSummary };

export interface StreamOptions {
  /** Start after this block index (-1, the default, is from the first block). */
  after?: number;
  signal?: AbortSignal;
  /** Reconnect when nothing (not even a keep-alive) arrived for this long (default 45 s). */
  idleTimeoutMs?: number;
  /** Attempts in a row without a new block before giving up (default: the client's maxRetries, at least 5). */
  maxReconnects?: number;
  /** Called before each reconnect, with why (for logs and progress displays). */
  onReconnect?: (info: { attempt: number; delayMs: number; after: number; error: Error }) => void;
}

const IDLE_TIMEOUT_MS_DEFAULT = 45_000;
/** A connection that stayed up this long before ending cleanly was the server's periodic close, not a failure. */
const HEALTHY_CONNECTION_MS = 5_000;

type Outcome =
  | { kind: "done"; generation: JobSummary }
  | { kind: "dropped"; error: Error; hasProgressed: boolean; wasHealthy: boolean };

export async function* streamBlocks(
  transport: Transport,
  generationId: string,
  options: StreamOptions = {},
): AsyncGenerator<StreamEvent, JobSummary, undefined> {
  const state = { last: options.after ?? -1 };
  const maxReconnects = options.maxReconnects ?? Math.max(5, transport.maxRetries);
  let failures = 0;
  let isReconnect = false;
  for (;;) {
    const outcome = yield* connectOnce(transport, generationId, state, isReconnect, options);
    isReconnect = true;
    if (outcome.kind === "done") return outcome.generation;
    const { error, hasProgressed, wasHealthy } = outcome;
    if (hasProgressed || wasHealthy) failures = 0;
    else failures++;
    if (failures > maxReconnects) throw error;
    const retryAfter = error instanceof ApiError ? error.retryAfterSeconds : null;
    const delayMs = failures === 0 ? 0 : retryDelayMs(failures - 1, retryAfter, transport.backoff, transport.random);
    options.onReconnect?.({ attempt: failures, delayMs, after: state.last, error });
    if (delayMs > 0) await transport.sleep(delayMs, options.signal);
  }
}

/** One connection: yields its new blocks (and `done`), then says how it ended. */
async function* connectOnce(
  transport: Transport,
  generationId: string,
  state: { last: number },
  isReconnect: boolean,
  options: StreamOptions,
): AsyncGenerator<StreamEvent, Outcome, undefined> {
  const { controller, unlink } = linkedController(options.signal);
  const watchdog = new IdleWatchdog(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS_DEFAULT, () => controller.abort());
  const startedAt = Date.now();
  let hasProgressed = false;
  const dropped = (error: Error): Outcome => ({
    kind: "dropped",
    error,
    hasProgressed,
    wasHealthy: Date.now() - startedAt >= HEALTHY_CONNECTION_MS,
  });
  try {
    const response = await transport.open({
      method: "GET",
      path: `/v1/generations/${encodeURIComponent(generationId)}/stream`,
      query: { after: state.last },
      headers: {
        accept: "text/event-stream",
        ...(isReconnect ? { "last-event-id": String(state.last) } : {}),
      },
      signal: controller.signal,
    });
    watchdog.kick();
    const contentType = response.headers.get("content-type") ?? "";
    if (!contentType.startsWith("text/event-stream") || response.body === null) {
      await response.body?.cancel().catch(() => {});
      return dropped(new StreamProtocolError(`expected an event stream, got '${contentType}'`));
    }
    for await (const item of readSse(response.body)) {
      watchdog.kick();
      if (item.kind !== "event") continue;
      if (item.event === "block") {
        const block = parseBlock(item);
        if (block.index <= state.last) continue;
        if (block.index !== state.last + 1) {
          return dropped(new StreamProtocolError(`block ${block.index} arrived after block ${state.last}`));
        }
        state.last = block.index;
        hasProgressed = true;
        yield { type: "block", block };
      } else if (item.event === "done") {
        const generation = parseSummary(item);
        if (generation.progress.blocks > state.last + 1) {
          return dropped(
            new StreamProtocolError(`done counts ${generation.progress.blocks} blocks, only ${state.last + 1} arrived`),
          );
        }
        yield { type: "done", generation };
        return { kind: "done", generation };
      }
      // Other event types are for newer clients: ignored.
    }
    return dropped(new ConnectionError("the stream ended before its done event"));
  } catch (error) {
    if (options.signal?.aborted) throw new AbortError("the stream was aborted", { cause: options.signal.reason });
    if (error instanceof AbortError && watchdog.hasFired) {
      return dropped(new ConnectionError("the stream was silent for too long", { cause: error }));
    }
    if (error instanceof ApiError && !isRetryableStatus(error.status)) throw error;
    if (error instanceof Bd3Error) return dropped(error);
    const message = watchdog.hasFired ? "the stream was silent for too long" : "the stream dropped";
    return dropped(new ConnectionError(message, { cause: error }));
  } finally {
    watchdog.stop();
    controller.abort();
    unlink();
  }
}

function parseJsonData(message: SseMessage): unknown {
  try {
    return JSON.parse(message.data);
  } catch (error) {
    throw new StreamProtocolError(`the ${message.event} event's data is not JSON`, { cause: error });
  }
}

function parseBlock(message: SseMessage): Block {
  const parsed = BlockSchema.safeParse(parseJsonData(message));
  if (!parsed.success)
    throw new StreamProtocolError("a block event does not match the schema", { cause: parsed.error });
  if (message.id !== String(parsed.data.index)) {
    throw new StreamProtocolError(`block ${parsed.data.index} came with event id '${message.id}'`);
  }
  return parsed.data;
}

function parseSummary(message: SseMessage): JobSummary {
  const parsed = JobSummarySchema.safeParse(parseJsonData(message));
  if (!parsed.success)
    throw new StreamProtocolError("the done event does not match the schema", { cause: parsed.error });
  return parsed.data;
}
