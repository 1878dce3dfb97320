/**
 * `Bd3Client`: the public API of bd3-serve (`/v1/generations`), one method per operation. It holds the
 * settings and a Transport (retries, timeouts, error mapping); every answer is validated with the schema of
 * `@bd3-serve/shared` the edge itself answers with, so a field the SDK reads is the field the server sent.
 */
import {
  type BlockPage,
  BlockPageSchema,
  type CreateGenerationRequestInput,
  type JobListPage,
  JobListPageSchema,
  type JobStatus,
  type JobSummary,
  type JobView,
  JobViewSchema,
} from "@bd3-serve/shared";
import { AdminKeys } from "./admin-keys.ts";
import type { BackoffOptions } from "./http/backoff.ts";
import { type FetchLike, Transport } from "./http/transport.ts";
import { allPages } from "./pages.ts";
import type { RequestOptions } from "./request-options.ts";
import { type StreamEvent, type StreamOptions, streamBlocks } from "./stream/block-stream.ts";
import { PREFER_WAIT_MAX_SECONDS, type WaitOptions, waitForTerminal } from "./wait.ts";

export interface Bd3ClientOptions {
  /** The API's origin, e.g. `https://api.example.com` (a path prefix is kept). */
  baseUrl: string;
  apiKey: string;
  /** fetch to use (default: the global one). */
  fetch?: FetchLike;
  /** Retries of a request after a 408, 429, 5xx, network error or timeout (default 3). */
  maxRetries?: number;
  /** Limit per attempt, in milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Exponential backoff between retries (default 500 ms doubling up to 8 s, with jitter). */
  backoff?: BackoffOptions;
}

export type { RequestOptions } from "./request-options.ts";

export interface CreateGenerationOptions extends RequestOptions {
  /** Makes the create safe to repeat: the same key and body give the same job. Default: a random UUID. */
  idempotencyKey?: string;
  /** Ask the edge to hold the answer up to this many seconds for the job to finish (`Prefer: wait=N`). */
  waitSeconds?: number;
}

export interface ListOptions extends RequestOptions {
  /** Page size (1..100; the server's default when omitted). */
  limit?: number;
  status?: JobStatus;
}

export interface BlocksOptions extends RequestOptions {
  after?: number;
  limit?: number;
}

const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_TIMEOUT_MS = 60_000;

export class Bd3Client {
  /** Operator calls, for a key with the `admin` scope: `admin.keys.create/list/revoke/rotate`. */
  readonly admin: { readonly keys: AdminKeys };
  readonly #transport: Transport;
  readonly #timeoutMs: number;

  constructor(options: Bd3ClientOptions) {
    if (!options.baseUrl) throw new TypeError("Bd3Client: baseUrl is required");
    if (!options.apiKey) throw new TypeError("Bd3Client: apiKey is required");
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const globalFetch: FetchLike = (input, init) => globalThis.fetch(input, init);
    this.#transport = new Transport({
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      fetch: options.fetch ?? globalFetch,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
      timeoutMs: this.#timeoutMs,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    });
    this.admin = { keys: new AdminKeys(this.#transport) };
  }

  /** `POST /v1/generations`. Retried with one Idempotency-Key, so a retry never makes a second job. */
  async createGeneration(body: CreateGenerationRequestInput, options: CreateGenerationOptions = {}): Promise<JobView> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const headers: Record<string, string> = { "idempotency-key": idempotencyKey };
    const waitSeconds = Math.min(PREFER_WAIT_MAX_SECONDS, Math.max(0, Math.floor(options.waitSeconds ?? 0)));
    if (waitSeconds > 0) headers.prefer = `wait=${waitSeconds}`;
    const { data } = await this.#transport.request(
      {
        method: "POST",
        path: "/v1/generations",
        body,
        headers,
        signal: options.signal,
        ...this.#timeoutForWait(waitSeconds),
      },
      JobViewSchema,
    );
    return data;
  }

  /** `GET /v1/generations/:id`: status, progress and the text so far (null past the inline limit). */
  async get(id: string, options: RequestOptions = {}): Promise<JobView> {
    const { data } = await this.#transport.request(
      { method: "GET", path: generationPath(id), signal: options.signal },
      JobViewSchema,
    );
    return data;
  }

  /** One page of `GET /v1/generations` (newest first); pass `next_cursor` back as `cursor`. */
  async listPage(options: ListOptions & { cursor?: string } = {}): Promise<JobListPage> {
    const { data } = await this.#transport.request(
      {
        method: "GET",
        path: "/v1/generations",
        query: { limit: options.limit, status: options.status, cursor: options.cursor },
        signal: options.signal,
      },
      JobListPageSchema,
    );
    return data;
  }

  /** Every generation (newest first), fetching pages as the iteration goes. */
  async *list(options: ListOptions = {}): AsyncGenerator<JobSummary, void, undefined> {
    yield* allPages((cursor) => this.listPage({ ...options, ...(cursor === undefined ? {} : { cursor }) }));
  }

  /** `GET /v1/generations/:id/blocks`: a page of committed blocks after `after`. */
  async blocks(id: string, options: BlocksOptions = {}): Promise<BlockPage> {
    const { data } = await this.#transport.request(
      {
        method: "GET",
        path: `${generationPath(id)}/blocks`,
        query: { after: options.after, limit: options.limit },
        signal: options.signal,
      },
      BlockPageSchema,
    );
    return data;
  }

  /** `POST /v1/generations/:id/cancel` (idempotent): the view, terminal or with the cancel pending. */
  async cancel(id: string, options: RequestOptions = {}): Promise<JobView> {
    const { data } = await this.#transport.request(
      { method: "POST", path: `${generationPath(id)}/cancel`, body: {}, signal: options.signal },
      JobViewSchema,
    );
    return data;
  }

  /** Resolves with the view once the job is terminal (WaitTimeoutError after `timeoutMs`). */
  wait(id: string, options: WaitOptions = {}): Promise<JobView> {
    return waitForTerminal(
      id,
      {
        poll: async (waitSeconds, signal) => {
          const { data, headers } = await this.#transport.request(
            {
              method: "GET",
              path: generationPath(id),
              headers: { prefer: `wait=${waitSeconds}` },
              signal,
              ...this.#timeoutForWait(waitSeconds),
            },
            JobViewSchema,
          );
          return { view: data, held: /\bwait=/.test(headers.get("preference-applied") ?? "") };
        },
        sleep: this.#transport.sleep,
      },
      options,
    );
  }

  /**
   * The job's blocks as they are committed, then `{ type: "done", generation }` (also the iterator's return
   * value). Resumes across dropped connections; never repeats or skips a block (see block-stream.ts).
   */
  stream(id: string, options: StreamOptions = {}): AsyncGenerator<StreamEvent, JobSummary, undefined> {
    return streamBlocks(this.#transport, id, options);
  }

  /** A held request (`Prefer: wait=N`) needs N seconds more than the per-attempt timeout. */
  #timeoutForWait(waitSeconds: number): { timeoutMs?: number } {
    return waitSeconds > 0 ? { timeoutMs: this.#timeoutMs + waitSeconds * 1_000 } : {};
  }
}

function generationPath(id: string): string {
  return `/v1/generations/${encodeURIComponent(id)}`;
}
