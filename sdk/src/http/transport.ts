/**
 * The one place the SDK calls fetch. Holds the client's settings (base URL, key, fetch, retries, timeout);
 * each `request` is stateless otherwise. A JSON request is retried on 408, 429, 5xx and on network errors
 * or timeouts, `maxRetries` times, waiting `Retry-After` when the server gave one and exponential backoff
 * with jitter when not; the caller's headers (an Idempotency-Key above all) are the same on every attempt.
 * `open` makes one attempt and hands back the live response (the block stream does its own reconnecting).
 */
import type { z } from "zod";
import { AbortError, ApiError, ConnectionError, RequestTimeoutError, ResponseValidationError } from "../errors.ts";
import { linkedController, sleep } from "./abort.ts";
import { type BackoffOptions, DEFAULT_BACKOFF, isRetryableStatus, retryDelayMs } from "./backoff.ts";
import { apiErrorFrom, requestIdOf } from "./error-mapping.ts";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  maxRetries: number;
  timeoutMs: number;
  backoff?: BackoffOptions;
  /** For tests: how to wait between attempts, and the jitter source. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export type QueryValue = string | number | undefined;

export interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** This request's limit per attempt (a `Prefer: wait` request needs longer than the default). */
  timeoutMs?: number;
  /** This request's retries, below the client's (0 for a create that no key makes safe to repeat). */
  maxRetries?: number;
}

export interface JsonResult<T> {
  data: T;
  status: number;
  headers: Headers;
}

export class Transport {
  readonly maxRetries: number;
  readonly backoff: BackoffOptions;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
  readonly #options: TransportOptions;

  constructor(options: TransportOptions) {
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.maxRetries = options.maxRetries;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.sleep = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
  }

  /** A JSON request, retried as the module docblock says; the answer validated with `schema`. */
  async request<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<JsonResult<z.output<S>>> {
    for (let attempt = 0; ; attempt++) {
      let failure: ApiError | ConnectionError;
      try {
        const answer = await this.#attempt(spec, async (response) => ({
          status: response.status,
          headers: response.headers,
          text: await response.text(),
        }));
        if (answer.status >= 200 && answer.status < 300) return parseJson(answer, schema);
        failure = apiErrorFrom(answer.status, answer.headers, answer.text);
        if (!isRetryableStatus(answer.status)) throw failure;
      } catch (error) {
        if (!(error instanceof ConnectionError)) throw error;
        failure = error;
      }
      if (attempt >= (spec.maxRetries ?? this.maxRetries)) throw failure;
      const retryAfter = failure instanceof ApiError ? failure.retryAfterSeconds : null;
      await this.sleep(retryDelayMs(attempt, retryAfter, this.backoff, this.random), spec.signal);
    }
  }

  /**
   * One attempt whose body the caller reads (SSE). The timeout covers only the wait for the headers. A
   * non-2xx answer becomes its ApiError (the caller decides whether to retry).
   */
  async open(spec: RequestSpec): Promise<Response> {
    const response = await this.#attempt(spec, async (response) => response, true);
    if (response.ok) return response;
    throw apiErrorFrom(response.status, response.headers, await response.text().catch(() => ""));
  }

  /**
   * fetch once and `read` the answer, both under the timeout (so a JSON reply that stalls half way is
   * retried too; `open` reads nothing, so its timeout ends with the headers while the caller's signal
   * still aborts the body). Network failures become
   * ConnectionError, the timeout RequestTimeoutError, the caller's abort AbortError.
   */
  async #attempt<T>(spec: RequestSpec, read: (response: Response) => Promise<T>, isStreaming = false): Promise<T> {
    if (spec.signal?.aborted) throw new AbortError("the request was aborted", { cause: spec.signal.reason });
    const timeoutMs = spec.timeoutMs ?? this.#options.timeoutMs;
    const timeout = new AbortController();
    const { controller, unlink } = linkedController(spec.signal, timeout.signal);
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const clear = () => {
      clearTimeout(timer);
      unlink();
    };
    try {
      const response = await this.#options.fetch(this.#url(spec), {
        method: spec.method,
        headers: this.#headers(spec),
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        signal: controller.signal,
      });
      const result = await read(response);
      // A streamed body must stay abortable by the caller's signal: only the timer ends here.
      if (isStreaming) clearTimeout(timer);
      else clear();
      return result;
    } catch (error) {
      clear();
      if (spec.signal?.aborted) throw new AbortError("the request was aborted", { cause: spec.signal.reason });
      if (timeout.signal.aborted) {
        throw new RequestTimeoutError(`${spec.method} ${spec.path}: no answer within ${timeoutMs} ms`, {
          cause: error,
        });
      }
      throw new ConnectionError(`${spec.method} ${spec.path}: ${describe(error)}`, { cause: error });
    }
  }

  #url(spec: RequestSpec): string {
    const url = new URL(`${this.#options.baseUrl}${spec.path}`);
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  #headers(spec: RequestSpec): Record<string, string> {
    return {
      authorization: `Bearer ${this.#options.apiKey}`,
      accept: "application/json",
      ...(spec.body === undefined ? {} : { "content-type": "application/json" }),
      ...spec.headers,
    };
  }
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

function parseJson<S extends z.ZodType>(answer: Answer, schema: S): JsonResult<z.output<S>> {
  const requestId = requestIdOf(answer.headers);
  const { text, status } = answer;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ResponseValidationError(`the answer (HTTP ${status}) is not JSON`, {
      status,
      requestId,
      cause: error,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? "" : ` at '${issue.path.join(".")}': ${issue.message}`;
    throw new ResponseValidationError(`the answer does not match the API schema${where}`, {
      status,
      requestId,
      cause: parsed.error,
    });
  }
  return { data: parsed.data, status, headers: answer.headers };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
