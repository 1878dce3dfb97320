/**
 * The `fetch` the block stream's IdempotentProducer sends through. The producer itself handles the protocol
 * (sequence numbers, pipelining, waiting out a reordering 409) but not transport failures, and it would
 * retry forever on a 409 that is not a sequence gap. This wrapper closes both gaps without touching the
 * protocol:
 * - network errors, timeouts and 5xx are retried with the worker's backoff (the same request: same
 *   Producer-Seq, so a retry that lands twice is a 204 duplicate);
 * - a 409 with `Stream-Closed` (the job is terminal), a 403 (a newer lease), any other 409 without
 *   `Producer-Expected-Seq` (a refused block) and other 4xx become an `EdgeCallError` with the edge's code,
 *   which the producer reports once through `onError`;
 * - every accepted or duplicate answer's job headers (committed blocks, cancel requested) go to `onReply`;
 * - redirects are not followed: the edge never redirects, and a followed Access login redirect would end in
 *   a 200 page the producer would take for an acknowledged batch.
 */
import { BLOCK_STREAM_HEADERS } from "@bd3-serve/shared";
import { REDIRECT_HINT } from "./access.ts";
import { EdgeCallError, parseErrorBody } from "./errors.ts";
import { type BackoffPolicy, backoffDelayMs, sleep } from "./retry.ts";

export interface BlockStreamReply {
  /** Blocks the edge has committed for the job (absolute, all leases). */
  committedBlocks: number;
  isCanceled: boolean;
}

export interface ProducerFetchOptions {
  fetch: typeof fetch;
  requestTimeoutMs: number;
  backoff: BackoffPolicy;
  random?: () => number;
  onReply: (reply: BlockStreamReply) => void;
  onRetry?: (retry: number, error: EdgeCallError) => void;
}

export function createProducerFetch(options: ProducerFetchOptions): typeof fetch {
  const { backoff, random = Math.random } = options;
  return async function producerFetch(input, init) {
    for (let attempt = 1; ; attempt++) {
      let error: EdgeCallError;
      try {
        const timeout = AbortSignal.timeout(options.requestTimeoutMs);
        const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
        const response = await options.fetch(input, { ...init, redirect: "manual", signal });
        if (response.status < 500) return await judge(response, options.onReply);
        await response.body?.cancel();
        error = new EdgeCallError(`edge replied ${response.status}`, { status: response.status, isRetryable: true });
      } catch (cause) {
        if (cause instanceof EdgeCallError || init?.signal?.aborted) throw cause;
        error = new EdgeCallError(`edge unreachable: ${String(cause)}`, { isRetryable: true, cause });
      }
      if (attempt >= backoff.maxAttempts) throw error;
      options.onRetry?.(attempt, error);
      await sleep(backoffDelayMs(attempt, backoff, random));
    }
  };
}

async function judge(response: Response, onReply: (reply: BlockStreamReply) => void): Promise<Response> {
  const { status, headers } = response;
  if (status === 200 || status === 204) {
    const committed = Number(headers.get(BLOCK_STREAM_HEADERS.committedBlocks));
    if (Number.isInteger(committed)) {
      onReply({ committedBlocks: committed, isCanceled: headers.get(BLOCK_STREAM_HEADERS.isCanceled) === "true" });
    }
    return response;
  }
  if (status === 409 && headers.get("Producer-Expected-Seq") !== null && headers.get("Stream-Closed") === null) {
    return response;
  }
  const body = parseErrorBody(await response.text().catch(() => ""));
  // The protocol's fencing 403 names the current epoch; a 403 without it is someone else's (Access, a proxy).
  const isFenced = status === 403 && (headers.get("Producer-Epoch") !== null || body.code === "stale_epoch");
  const code = headers.get("Stream-Closed") === "true" ? "job_terminal" : isFenced ? "stale_epoch" : body.code;
  const detail = status >= 300 && status < 400 ? REDIRECT_HINT : (body.message ?? "refused");
  throw new EdgeCallError(`edge replied ${status}: ${detail}`, {
    status,
    ...(code !== undefined ? { code } : {}),
    ...(body.type !== undefined ? { type: body.type } : {}),
    isRetryable: false,
  });
}
