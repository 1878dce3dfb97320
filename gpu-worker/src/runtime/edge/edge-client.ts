/**
 * HTTP client for the edge's worker API (docs/worker-api.md): lease, append, heartbeat, finish, fail, release. Every
 * call is idempotent on the edge (append by index, finish/fail by terminal state), so a call is retried with
 * bounded exponential backoff + jitter on 5xx, network errors and timeouts; 4xx (409 `stale_epoch`, ...) are
 * final for that call and surface as `EdgeCallError` with the edge's `code`. Every request (calls and the block
 * stream) carries the job's capability and, when configured, the fleet's Cloudflare Access service token
 * (access.ts); redirects are never followed.
 */
import {
  type AppendBlockReply,
  AppendBlockReplySchema,
  type AppendBlockRequest,
  type FailRequest,
  type FinishRequest,
  type HeartbeatReply,
  HeartbeatReplySchema,
  type HeartbeatRequest,
  type JobStatusReply,
  JobStatusReplySchema,
  type LeaseReply,
  LeaseReplySchema,
  type LeaseRequest,
  type ReleaseRequest,
} from "@bd3-serve/shared";
import type { z } from "zod";
import { type AccessServiceToken, accessHeaders, REDIRECT_HINT } from "./access.ts";
import { type BlockStreamOptions, type BlockStreamWriter, openProducerBlockStream } from "./block-stream.ts";
import { EdgeCallError, parseErrorBody } from "./errors.ts";
import {
  type BackoffPolicy,
  backoffDelayMs,
  EDGE_BACKOFF_BASE_DELAY_MS,
  EDGE_BACKOFF_MAX_DELAY_MS,
  sleep,
} from "./retry.ts";

export interface EdgeClient {
  lease(jobId: string, capability: string, body: LeaseRequest): Promise<LeaseReply>;
  /** The job's block stream (block-stream.ts): batched, pipelined, idempotent appends under the lease epoch. */
  openBlockStream(jobId: string, capability: string, options: BlockStreamOptions): BlockStreamWriter;
  /** Single-block append of the worker API before the block stream (kept for tools and old edges). */
  append(jobId: string, capability: string, body: AppendBlockRequest): Promise<AppendBlockReply>;
  heartbeat(jobId: string, capability: string, body: HeartbeatRequest): Promise<HeartbeatReply>;
  finish(jobId: string, capability: string, body: FinishRequest): Promise<JobStatusReply>;
  fail(jobId: string, capability: string, body: FailRequest): Promise<JobStatusReply>;
  /** Ends this worker's lease at once (drain), so the next worker's lease is not `lease_held`. */
  release(jobId: string, capability: string, body: ReleaseRequest): Promise<JobStatusReply>;
}

export type EdgeCallName = "lease" | "append" | "heartbeat" | "finish" | "fail" | "release";

export interface EdgeClientOptions {
  baseUrl: string;
  /** Per attempt, in milliseconds. */
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  fetch?: typeof fetch;
  /** Cloudflare Access service token, sent on every request (calls and block stream); none when undefined. */
  accessServiceToken?: AccessServiceToken;
  random?: () => number;
  /** Called before each retry (metrics, logs). */
  onRetry?: (call: EdgeCallName, jobId: string, retry: number, error: EdgeCallError) => void;
  /** Called after each call with its outcome and its duration in seconds (all attempts). */
  onCall?: (call: EdgeCallName, outcome: "ok" | "error", seconds: number) => void;
  /** Block stream: a batch waits this long for more blocks, in milliseconds. */
  blockStreamLingerMs?: number;
  /** Block stream: batches in flight at once. */
  blockStreamMaxInFlight?: number;
}

/** A batch leaves after 5 ms (the producer's default): blocks finished in one engine step travel together. */
export const BLOCK_STREAM_LINGER_MS_DEFAULT = 5;
/** Batches in flight per job: 5 (the producer's default) covers a 50-80 ms round trip at GPU block rates. */
export const BLOCK_STREAM_MAX_IN_FLIGHT_DEFAULT = 5;
/** Bytes per batch: 1 MiB, far below the edge's 8 MiB block-stream body limit. */
export const BLOCK_STREAM_MAX_BATCH_BYTES = 1024 * 1024;

const ROUTES: Record<EdgeCallName, string> = {
  lease: "lease",
  append: "blocks",
  heartbeat: "heartbeat",
  finish: "finish",
  fail: "fail",
  release: "release",
};

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ATTEMPTS = 6;

export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  const {
    baseUrl,
    requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
    fetch: fetchImpl = globalThis.fetch,
    random = Math.random,
    onRetry,
    onCall,
  } = options;
  const policy: BackoffPolicy = {
    maxAttempts: options.backoff?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    baseDelayMs: options.backoff?.baseDelayMs ?? EDGE_BACKOFF_BASE_DELAY_MS,
    maxDelayMs: options.backoff?.maxDelayMs ?? EDGE_BACKOFF_MAX_DELAY_MS,
  };
  const root = baseUrl.replace(/\/+$/, "");
  const access = accessHeaders(options.accessServiceToken);

  async function attempt<T>(url: string, capability: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method: "POST",
        headers: { authorization: `Bearer ${capability}`, "content-type": "application/json", ...access },
        body: JSON.stringify(body),
        // The worker API never redirects; an Access login redirect must surface as itself (below).
        redirect: "manual",
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (cause) {
      throw new EdgeCallError(`edge unreachable: ${describe(cause)}`, { isRetryable: true, cause });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throw new EdgeCallError(`edge reply cut off: ${describe(cause)}`, { isRetryable: true, cause });
    }
    if (!response.ok) {
      const error = parseErrorBody(text);
      const retryAfterSeconds = Number(response.headers.get("retry-after") ?? Number.NaN);
      const detail = isRedirect(response.status) ? REDIRECT_HINT : (error.message ?? text.slice(0, 200));
      throw new EdgeCallError(`edge replied ${response.status}: ${detail}`, {
        status: response.status,
        ...(Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0 ? { retryAfterSeconds } : {}),
        ...(error.code !== undefined ? { code: error.code } : {}),
        ...(error.type !== undefined ? { type: error.type } : {}),
        isRetryable: response.status >= 500,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new EdgeCallError("edge reply is not JSON", { status: response.status, isRetryable: false, cause });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new EdgeCallError(`edge reply does not match the worker API: ${parsed.error.message}`, {
        status: response.status,
        isRetryable: false,
      });
    }
    return parsed.data;
  }

  async function call<T>(
    name: EdgeCallName,
    jobId: string,
    capability: string,
    body: unknown,
    schema: z.ZodType<T>,
  ): Promise<T> {
    const url = `${root}/internal/v1/jobs/${encodeURIComponent(jobId)}/${ROUTES[name]}`;
    const startedAt = performance.now();
    for (let attemptNumber = 1; ; attemptNumber++) {
      try {
        const reply = await attempt(url, capability, body, schema);
        onCall?.(name, "ok", (performance.now() - startedAt) / 1_000);
        return reply;
      } catch (error) {
        const callError =
          error instanceof EdgeCallError
            ? error
            : new EdgeCallError(describe(error), { isRetryable: false, cause: error });
        if (!callError.isRetryable || attemptNumber >= policy.maxAttempts) {
          onCall?.(name, "error", (performance.now() - startedAt) / 1_000);
          throw callError;
        }
        onRetry?.(name, jobId, attemptNumber, callError);
        await sleep(backoffDelayMs(attemptNumber, policy, random));
      }
    }
  }

  return {
    lease: (jobId, capability, body) => call("lease", jobId, capability, body, LeaseReplySchema),
    openBlockStream: (jobId, capability, streamOptions) =>
      openProducerBlockStream(
        {
          url: `${root}/internal/v1/jobs/${encodeURIComponent(jobId)}/block-stream`,
          capability,
          headers: access,
          fetch: fetchImpl,
          requestTimeoutMs,
          backoff: policy,
          random,
          ...(onRetry ? { onRetry: (retry, error) => onRetry("append", jobId, retry, error) } : {}),
          lingerMs: options.blockStreamLingerMs ?? BLOCK_STREAM_LINGER_MS_DEFAULT,
          maxInFlight: options.blockStreamMaxInFlight ?? BLOCK_STREAM_MAX_IN_FLIGHT_DEFAULT,
          maxBatchBytes: BLOCK_STREAM_MAX_BATCH_BYTES,
        },
        streamOptions,
      ),
    append: (jobId, capability, body) => call("append", jobId, capability, body, AppendBlockReplySchema),
    heartbeat: (jobId, capability, body) => call("heartbeat", jobId, capability, body, HeartbeatReplySchema),
    finish: (jobId, capability, body) => call("finish", jobId, capability, body, JobStatusReplySchema),
    fail: (jobId, capability, body) => call("fail", jobId, capability, body, JobStatusReplySchema),
    release: (jobId, capability, body) => call("release", jobId, capability, body, JobStatusReplySchema),
  };
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
