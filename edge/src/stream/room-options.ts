import type { StreamNotifier } from "./notifier.ts";
import type { StreamStore } from "./stream-store.ts";

/**
 * What a host gives the protocol handler for one request: the storage and wake-ups of the Durable Object
 * it runs in, and the policy of that mount. The dev mount is the whole protocol; a job's document is read-only
 * to tenants (its writer is the job object itself).
 */
export interface StreamRoomOptions {
  store: StreamStore;
  notifier: StreamNotifier;
  now: () => number;
  /** A long-poll with nothing new answers 204 after this long; SSE sends a keep-alive control as often. */
  longPollTimeoutMs: number;
  /** An SSE response ends after this long (the client reconnects from its last offset). */
  sseConnectionMaxMs: number;
  /** "read-only": GET/HEAD/OPTIONS only, every write is a 405. */
  access: "read-write" | "read-only";
  /**
   * Cache-Control of a catch-up read that can never change (a range below the tail, or a closed stream).
   * Reads at an open tail are always `no-store`-like short lived (see read.ts).
   */
  historyCacheControl: string;
  /** Add the protocol's CORS headers (any origin) and answer preflights. */
  cors: boolean;
  /** Absolute URL of a stream, for `Location` on create. */
  urlOf: (name: string) => string;
}
