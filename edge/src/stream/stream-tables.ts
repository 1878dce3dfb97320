/**
 * SQLite layout of the stream room (any Durable Object can host streams: the dev mount hosts many, a job
 * object hosts its document).
 *
 * - `ds_streams`: one row per stream: its configuration, its tail position, closed state, fork links.
 * - `ds_chunks`: the stream's bytes in bounded rows (at most STREAM_CHUNK_MAX_BYTES each, far below the
 *   2 MB row cap of Durable Object SQLite), keyed by (stream, end position) so "everything after position P"
 *   is one index range. `append_id` groups the rows of one append; `message_end` is the end of the logical
 *   message a row belongs to (one JSON value in JSON mode, one append otherwise), so a JSON value larger than
 *   a row is split and put back together on read.
 * - `ds_producers`: the idempotent producers' (epoch, last sequence number) per stream.
 */
export const STREAM_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS ds_streams (
  name TEXT PRIMARY KEY,
  incarnation TEXT NOT NULL,
  content_type TEXT NOT NULL,
  ttl_seconds INTEGER,
  expires_at TEXT,
  expires_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL,
  last_access_at_ms INTEGER NOT NULL,
  tail_position INTEGER NOT NULL DEFAULT 0,
  next_append_id INTEGER NOT NULL DEFAULT 0,
  is_closed INTEGER NOT NULL DEFAULT 0,
  closed_by TEXT,
  last_stream_seq TEXT,
  fork_of TEXT,
  fork_offset TEXT,
  fork_sub_offset INTEGER NOT NULL DEFAULT 0,
  ref_count INTEGER NOT NULL DEFAULT 0,
  is_soft_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ds_chunks (
  stream TEXT NOT NULL,
  end_pos INTEGER NOT NULL,
  start_pos INTEGER NOT NULL,
  append_id INTEGER NOT NULL,
  message_end INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (stream, end_pos)
);
CREATE TABLE IF NOT EXISTS ds_producers (
  stream TEXT NOT NULL,
  producer_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (stream, producer_id)
);`;

/** The producer request that closed a stream, so its retry is recognised as a duplicate. */
export interface ClosedBy {
  producerId: string;
  epoch: number;
  seq: number;
}

export interface StreamMeta {
  name: string;
  /** Random per creation: ETags of a deleted-and-recreated stream never match the old one's. */
  incarnation: string;
  contentType: string;
  ttlSeconds: number | null;
  /** `Stream-Expires-At` as the creator sent it (echoed on HEAD, compared on an idempotent PUT). */
  expiresAt: string | null;
  expiresAtMs: number | null;
  createdAtMs: number;
  lastAccessAtMs: number;
  tailPosition: number;
  nextAppendId: number;
  isClosed: boolean;
  closedBy: ClosedBy | null;
  lastStreamSeq: string | null;
  forkOf: string | null;
  forkOffset: string | null;
  forkSubOffset: number;
  refCount: number;
  isSoftDeleted: boolean;
}

export interface StreamRow extends Record<string, SqlStorageValue> {
  name: string;
  incarnation: string;
  content_type: string;
  ttl_seconds: number | null;
  expires_at: string | null;
  expires_at_ms: number | null;
  created_at_ms: number;
  last_access_at_ms: number;
  tail_position: number;
  next_append_id: number;
  is_closed: number;
  closed_by: string | null;
  last_stream_seq: string | null;
  fork_of: string | null;
  fork_offset: string | null;
  fork_sub_offset: number;
  ref_count: number;
  is_soft_deleted: number;
}

export function streamFromRow(row: StreamRow): StreamMeta {
  return {
    name: row.name,
    incarnation: row.incarnation,
    contentType: row.content_type,
    ttlSeconds: row.ttl_seconds,
    expiresAt: row.expires_at,
    expiresAtMs: row.expires_at_ms,
    createdAtMs: row.created_at_ms,
    lastAccessAtMs: row.last_access_at_ms,
    tailPosition: row.tail_position,
    nextAppendId: row.next_append_id,
    isClosed: row.is_closed === 1,
    closedBy: row.closed_by === null ? null : (JSON.parse(row.closed_by) as ClosedBy),
    lastStreamSeq: row.last_stream_seq,
    forkOf: row.fork_of,
    forkOffset: row.fork_offset,
    forkSubOffset: row.fork_sub_offset,
    refCount: row.ref_count,
    isSoftDeleted: row.is_soft_deleted === 1,
  };
}

export interface ChunkRow extends Record<string, SqlStorageValue> {
  end_pos: number;
  start_pos: number;
  append_id: number;
  message_end: number;
  data: ArrayBuffer;
}
