/**
 * One job's block stream to the edge, written with @durable-streams/client's `IdempotentProducer`
 * (docs/worker-api.md): blocks are queued at once and sent in batches (everything ready within `lingerMs`,
 * at most `maxBatchBytes` a request) with up to `maxInFlight` requests pipelined, so a job's speed does not
 * depend on the round trip to the edge. The producer epoch is the lease epoch and its sequence numbers
 * restart with each lease, so the edge drops a retried batch as a duplicate and fences a stale worker.
 *
 * Lifecycle: opened after the lease; `append` per block; `flush` before `finish` or a release; the first
 * error stops it (later appends are dropped, `flush` rejects with that error, `onError` hears it once).
 * Trade-off: acknowledgements arrive per batch, so `pendingBlocks` (sent or queued, not yet acknowledged) is
 * what the runner watches to pause a job whose edge cannot keep up.
 */
import type { BlockRecord } from "@bd3-serve/shared";
import { DurableStream, IdempotentProducer } from "@durable-streams/client";
import { EdgeCallError } from "./errors.ts";
import { type BlockStreamReply, createProducerFetch, type ProducerFetchOptions } from "./producer-fetch.ts";

export interface BlockStreamOptions {
  /** The lease epoch (the producer epoch). */
  epoch: number;
  /** Blocks committed before this stream opened (the lease's `committed_blocks`). */
  startBlock: number;
  /** Stable id of the writer (the worker id). */
  producerId: string;
  onReply?: (reply: BlockStreamReply) => void;
  onError?: (error: EdgeCallError) => void;
}

export interface BlockStreamWriter {
  /** Queues one block (fire and forget); ignored once the stream stopped. */
  append(record: BlockRecord): void;
  /** Resolves when every queued block is acknowledged; rejects with the error that stopped the stream. */
  flush(): Promise<void>;
  /** Blocks appended but not yet acknowledged by the edge. */
  readonly pendingBlocks: number;
  /** The error that stopped the stream, if one did. */
  readonly error: EdgeCallError | undefined;
  /** Stops sending: what is queued is dropped (the lease is being let go anyway). */
  abandon(): void;
}

export interface ProducerSettings extends Omit<ProducerFetchOptions, "onReply"> {
  url: string;
  capability: string;
  /** Sent with every request beside the capability (the Cloudflare Access service token, access.ts). */
  headers: Record<string, string>;
  /** A batch waits this long for more blocks before it is sent. */
  lingerMs: number;
  /** Batches sent and not yet answered, at most. */
  maxInFlight: number;
  /** A batch is sent once it holds this many bytes (below the edge's body limit). */
  maxBatchBytes: number;
}

export function openProducerBlockStream(settings: ProducerSettings, options: BlockStreamOptions): BlockStreamWriter {
  const abort = new AbortController();
  let appended = 0;
  let acknowledged = options.startBlock;
  let failure: EdgeCallError | undefined;
  const stream = new DurableStream({
    url: settings.url,
    contentType: "application/json",
    headers: { ...settings.headers, authorization: `Bearer ${settings.capability}` },
  });
  const stop = (error: unknown) => {
    if (failure !== undefined) return;
    failure =
      error instanceof EdgeCallError
        ? error
        : new EdgeCallError(`block stream failed: ${String(error)}`, { isRetryable: true, cause: error });
    abort.abort();
    options.onError?.(failure);
  };
  const producer = new IdempotentProducer(stream, options.producerId, {
    epoch: options.epoch,
    autoClaim: false,
    lingerMs: settings.lingerMs,
    maxInFlight: settings.maxInFlight,
    maxBatchBytes: settings.maxBatchBytes,
    fetch: createProducerFetch({
      ...settings,
      onReply: (reply) => {
        acknowledged = Math.max(acknowledged, reply.committedBlocks);
        options.onReply?.(reply);
      },
    }),
    signal: abort.signal,
    onError: stop,
  });
  return {
    append(record) {
      if (failure !== undefined || abort.signal.aborted) return;
      appended++;
      producer.append(JSON.stringify(record));
    },
    async flush() {
      if (failure === undefined && !abort.signal.aborted) await producer.flush();
      if (failure !== undefined) throw failure;
    },
    get pendingBlocks() {
      return Math.max(0, options.startBlock + appended - acknowledged);
    },
    get error() {
      return failure;
    },
    abandon() {
      // Quietly: the runner is letting the job go, so the drop is not an error to report.
      failure ??= new EdgeCallError("block stream abandoned", { isRetryable: false });
      abort.abort();
    },
  };
}
