import type { StreamStore } from "./stream-store.ts";
import type { StreamMeta } from "./stream-tables.ts";

/**
 * Expiry and deletion of streams, fork reference counts included (PROTOCOL.md sections 4.2, 5.4).
 *
 * A stream expires when its sliding `Stream-TTL` passed since the last read or write, or its absolute
 * `Stream-Expires-At` passed. Expiry is applied when the stream is next touched (no alarm per stream): an
 * expired stream is deleted then, or, when forks still reference it, soft-deleted (410 to its own URL). A
 * hard delete releases the reference it held on its source and cascades: a soft-deleted source whose last
 * fork went away is deleted too, up the chain.
 */

export function isExpired(stream: StreamMeta, nowMs: number): boolean {
  if (stream.expiresAtMs !== null && nowMs >= stream.expiresAtMs) return true;
  return stream.ttlSeconds !== null && nowMs >= stream.lastAccessAtMs + stream.ttlSeconds * 1_000;
}

/** The stream with expiry applied: null when absent or expired away; soft-deleted ones are returned as such. */
export function resolveStream(store: StreamStore, name: string, nowMs: number): StreamMeta | null {
  const stream = store.find(name);
  if (stream === null || stream.isSoftDeleted || !isExpired(stream, nowMs)) return stream;
  if (stream.refCount > 0) {
    store.setForkState(name, { isSoftDeleted: true });
    return { ...stream, isSoftDeleted: true };
  }
  hardDelete(store, stream);
  return null;
}

export type DeleteOutcome = "deleted" | "soft_deleted" | "not_found" | "gone";

export function deleteStream(store: StreamStore, name: string, nowMs: number): DeleteOutcome {
  const stream = resolveStream(store, name, nowMs);
  if (stream === null) return "not_found";
  if (stream.isSoftDeleted) return "gone";
  if (stream.refCount > 0) {
    store.setForkState(name, { isSoftDeleted: true });
    return "soft_deleted";
  }
  hardDelete(store, stream);
  return "deleted";
}

function hardDelete(store: StreamStore, stream: StreamMeta): void {
  store.remove(stream.name);
  if (stream.forkOf === null) return;
  const source = store.find(stream.forkOf);
  if (source === null) return;
  const refCount = Math.max(0, source.refCount - 1);
  store.setForkState(source.name, { refCount });
  if (refCount === 0 && source.isSoftDeleted) hardDelete(store, { ...source, refCount });
}
