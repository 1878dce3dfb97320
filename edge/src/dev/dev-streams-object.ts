import { DurableObject } from "cloudflare:workers";
import { readConfig } from "../config/config.ts";
import type { Env } from "../env.ts";
import { handleStreamRequest, StreamNotifier, StreamStore } from "../stream/index.ts";
import { STREAM_NAME_MAX_LENGTH, STREAM_SSE_CONNECTION_MAX_MS } from "../stream/limits.ts";
import { notFound } from "../stream/respond.ts";

/** Where the generic protocol is mounted in development. */
export const DEV_STREAMS_PREFIX = "/dev/streams";
/** Streams under this first segment are the protocol's reserved control APIs (subscriptions: not served). */
const RESERVED_SEGMENT = "/__ds";
/** Catch-up reads of history may be cached by anyone: dev streams are not tenant data. */
const PUBLIC_HISTORY_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300";

/**
 * The generic Durable Streams protocol, development only: every stream under `/dev/streams/<path>` lives in
 * this ONE object (named "dev-streams"), so forks, reference counts and cascading deletes are local SQL.
 * It runs the same stream room code (edge/src/stream/) as every job's document, and exists so the
 * protocol's own conformance suite can test that code (tests/conformance/). Unauthenticated by design:
 * the route refuses it outside ENVIRONMENT=development (404), and production has no binding for it.
 *
 * Lifecycle: created on the first request; streams expire by their TTL when next touched; state persists
 * like any Durable Object's. Trade-off: one object serialises every dev stream, which is what a conformance
 * run wants (and nothing in production depends on it).
 */
export class DevStreamsObject extends DurableObject<Env> {
  private readonly store: StreamStore;
  private readonly notifier = new StreamNotifier();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new StreamStore(ctx.storage.sql);
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const config = readConfig(this.env);
    const options = {
      store: this.store,
      notifier: this.notifier,
      now: () => Date.now(),
      longPollTimeoutMs: config.streamLongPollMs,
      sseConnectionMaxMs: STREAM_SSE_CONNECTION_MAX_MS,
      access: "read-write" as const,
      historyCacheControl: PUBLIC_HISTORY_CACHE_CONTROL,
      cors: true,
      urlOf: (name: string) => `${url.origin}${DEV_STREAMS_PREFIX}${name}`,
    };
    const name = url.pathname.slice(DEV_STREAMS_PREFIX.length);
    const isReserved = name === RESERVED_SEGMENT || name.startsWith(`${RESERVED_SEGMENT}/`);
    if (!name.startsWith("/") || name.length < 2 || name.length > STREAM_NAME_MAX_LENGTH || isReserved) {
      return notFound(options);
    }
    return handleStreamRequest(request, name, options);
  }
}
