import { STREAM_CHUNK_MAX_BYTES, STREAM_READ_PAGE_MAX_ROWS } from "./limits.ts";
import type { ProducerState } from "./producer.ts";
import {
  type ChunkRow,
  type ClosedBy,
  STREAM_TABLES_SQL,
  type StreamMeta,
  type StreamRow,
  streamFromRow,
} from "./stream-tables.ts";

/**
 * The stream room's storage on one Durable Object's SQLite (layout in stream-tables.ts). Every method is
 * synchronous, so a caller's check-then-write (producer state + bytes + tail) is one atomic step that no
 * other request can interleave with, and Durable Object storage commits it as one unit.
 *
 * It knows bytes, rows and positions, not HTTP: the protocol lives in handler.ts and its helpers. Expiry,
 * soft deletion and forks are decided in lifecycle.ts and forks.ts on top of these primitives.
 */

export interface CreateStreamSpec {
  name: string;
  contentType: string;
  ttlSeconds: number | null;
  expiresAt: string | null;
  expiresAtMs: number | null;
  nowMs: number;
  forkOf?: string;
  forkOffset?: string;
  forkSubOffset?: number;
}

/** One stored row as a read returns it; `data` is already cut to start at the read position. */
export interface StreamPiece {
  startPosition: number;
  endPosition: number;
  /** End of the logical message this piece belongs to (a JSON value, or one append). */
  messageEnd: number;
  appendId: number;
  data: Uint8Array;
}

export interface StreamPage {
  pieces: StreamPiece[];
  /** Position after the last piece (the requested position when the page is empty). */
  endPosition: number;
}

export class StreamStore {
  private isReady = false;

  constructor(private readonly sql: SqlStorage) {}

  ensureSchema(): void {
    if (this.isReady) return;
    this.sql.exec(STREAM_TABLES_SQL);
    this.isReady = true;
  }

  /** Call after the whole storage was deleted. */
  forget(): void {
    this.isReady = false;
  }

  /** The tables were created by a batch elsewhere (a new job object's create). */
  markCreated(): void {
    this.isReady = true;
  }

  /** The stream as stored (expiry not applied; see lifecycle.ts). */
  find(name: string): StreamMeta | null {
    this.ensureSchema();
    const row = this.sql.exec<StreamRow>("SELECT * FROM ds_streams WHERE name = ?", name).toArray()[0];
    return row === undefined ? null : streamFromRow(row);
  }

  create(spec: CreateStreamSpec): StreamMeta {
    this.ensureSchema();
    this.sql.exec(
      `INSERT INTO ds_streams (name, incarnation, content_type, ttl_seconds, expires_at, expires_at_ms,
        created_at_ms, last_access_at_ms, fork_of, fork_offset, fork_sub_offset)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      spec.name,
      crypto.randomUUID().replace(/-/g, "").slice(0, 16),
      spec.contentType,
      spec.ttlSeconds,
      spec.expiresAt,
      spec.expiresAtMs,
      spec.nowMs,
      spec.nowMs,
      spec.forkOf ?? null,
      spec.forkOffset ?? null,
      spec.forkSubOffset ?? 0,
    );
    return this.find(spec.name) as StreamMeta;
  }

  /**
   * Appends messages as one append (one `append_id`), each split into rows of at most STREAM_CHUNK_MAX_BYTES
   * (cut so a row never ends inside a UTF-8 sequence, which keeps text pages decodable). Returns the new tail.
   */
  append(name: string, messages: readonly Uint8Array[]): number {
    const stream = this.find(name);
    if (stream === null) throw new Error(`no stream ${name}`);
    let position = stream.tailPosition;
    const appendId = stream.nextAppendId;
    for (const message of messages) {
      const messageEnd = position + message.byteLength;
      for (const piece of splitRows(message)) {
        this.insertRow(name, position, position + piece.byteLength, appendId, messageEnd, piece);
        position += piece.byteLength;
      }
    }
    this.sql.exec(
      "UPDATE ds_streams SET tail_position = ?, next_append_id = ? WHERE name = ?",
      position,
      appendId + 1,
      name,
    );
    return position;
  }

  /** Copies a row as it is (forks copy their inherited range row by row). */
  insertRow(
    name: string,
    startPosition: number,
    endPosition: number,
    appendId: number,
    messageEnd: number,
    data: Uint8Array,
  ): void {
    this.sql.exec(
      "INSERT INTO ds_chunks (stream, end_pos, start_pos, append_id, message_end, data) VALUES (?, ?, ?, ?, ?, ?)",
      name,
      endPosition,
      startPosition,
      appendId,
      messageEnd,
      toArrayBuffer(data),
    );
  }

  /**
   * Rows after `fromPosition`, in order, until about `maxBytes` (whole rows; the first is cut to start at
   * `fromPosition`). With `wholeMessages` the page is extended to the end of the message it stopped in.
   */
  read(name: string, fromPosition: number, maxBytes: number, { wholeMessages = false } = {}): StreamPage {
    const pieces: StreamPiece[] = [];
    let bytes = 0;
    let endPosition = fromPosition;
    const cursor = this.sql.exec<ChunkRow>(
      "SELECT end_pos, start_pos, append_id, message_end, data FROM ds_chunks WHERE stream = ? AND end_pos > ? ORDER BY end_pos LIMIT ?",
      name,
      fromPosition,
      STREAM_READ_PAGE_MAX_ROWS,
    );
    for (const row of cursor) {
      const isMidMessage = wholeMessages && pieces.length > 0 && endPosition < (pieces.at(-1)?.messageEnd ?? 0);
      if (bytes >= maxBytes && !isMidMessage) break;
      const all = new Uint8Array(row.data);
      const data = row.start_pos < fromPosition ? all.subarray(fromPosition - row.start_pos) : all;
      pieces.push({
        startPosition: Math.max(row.start_pos, fromPosition),
        endPosition: row.end_pos,
        messageEnd: row.message_end,
        appendId: row.append_id,
        data,
      });
      bytes += data.byteLength;
      endPosition = row.end_pos;
    }
    return { pieces, endPosition };
  }

  /**
   * Where a text page read from `fromPosition` ends (whole rows, about `maxBytes`), from the rows' positions
   * alone: the page's bytes are then read row by row as the reader takes them (`pieceAt`), so a reader that
   * stops reading pins at most one row, not the page.
   */
  pageEnd(name: string, fromPosition: number, maxBytes: number): number {
    let bytes = 0;
    let endPosition = fromPosition;
    const cursor = this.sql.exec<{ end_pos: number; start_pos: number }>(
      "SELECT end_pos, start_pos FROM ds_chunks WHERE stream = ? AND end_pos > ? ORDER BY end_pos LIMIT ?",
      name,
      fromPosition,
      STREAM_READ_PAGE_MAX_ROWS,
    );
    for (const row of cursor) {
      if (bytes >= maxBytes) break;
      bytes += row.end_pos - Math.max(row.start_pos, fromPosition);
      endPosition = row.end_pos;
    }
    return endPosition;
  }

  /** The row holding `position`, cut to start there; null past the tail. */
  pieceAt(name: string, position: number): StreamPiece | null {
    return this.read(name, position, 1).pieces[0] ?? null;
  }

  /** Every row of the stream up to `endPosition`, for a fork's copy. */
  rowsUpTo(name: string, endPosition: number): Iterable<ChunkRow> {
    return this.sql.exec<ChunkRow>(
      "SELECT end_pos, start_pos, append_id, message_end, data FROM ds_chunks WHERE stream = ? AND start_pos < ? ORDER BY end_pos",
      name,
      endPosition,
    );
  }

  touch(name: string, nowMs: number): void {
    this.sql.exec("UPDATE ds_streams SET last_access_at_ms = ? WHERE name = ?", nowMs, name);
  }

  close(name: string, closedBy: ClosedBy | null): void {
    this.sql.exec(
      "UPDATE ds_streams SET is_closed = 1, closed_by = ? WHERE name = ?",
      closedBy === null ? null : JSON.stringify(closedBy),
      name,
    );
  }

  setLastStreamSeq(name: string, seq: string): void {
    this.sql.exec("UPDATE ds_streams SET last_stream_seq = ? WHERE name = ?", seq, name);
  }

  setForkState(name: string, patch: { refCount?: number; isSoftDeleted?: boolean; nextAppendId?: number }): void {
    if (patch.refCount !== undefined) {
      this.sql.exec("UPDATE ds_streams SET ref_count = ? WHERE name = ?", patch.refCount, name);
    }
    if (patch.isSoftDeleted !== undefined) {
      this.sql.exec("UPDATE ds_streams SET is_soft_deleted = ? WHERE name = ?", patch.isSoftDeleted ? 1 : 0, name);
    }
    if (patch.nextAppendId !== undefined) {
      this.sql.exec("UPDATE ds_streams SET next_append_id = ? WHERE name = ?", patch.nextAppendId, name);
    }
  }

  setTail(name: string, tailPosition: number): void {
    this.sql.exec("UPDATE ds_streams SET tail_position = ? WHERE name = ?", tailPosition, name);
  }

  producer(name: string, producerId: string): ProducerState | null {
    const row = this.sql
      .exec<{ epoch: number; last_seq: number }>(
        "SELECT epoch, last_seq FROM ds_producers WHERE stream = ? AND producer_id = ?",
        name,
        producerId,
      )
      .toArray()[0];
    return row === undefined ? null : { epoch: row.epoch, lastSeq: row.last_seq };
  }

  saveProducer(name: string, producerId: string, state: ProducerState, nowMs: number): void {
    this.sql.exec(
      `INSERT INTO ds_producers (stream, producer_id, epoch, last_seq, updated_at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (stream, producer_id) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq,
         updated_at_ms = excluded.updated_at_ms`,
      name,
      producerId,
      state.epoch,
      state.lastSeq,
      nowMs,
    );
  }

  /** Removes the stream and everything stored for it (no fork bookkeeping: see lifecycle.ts). */
  remove(name: string): void {
    this.sql.exec("DELETE FROM ds_chunks WHERE stream = ?", name);
    this.sql.exec("DELETE FROM ds_producers WHERE stream = ?", name);
    this.sql.exec("DELETE FROM ds_streams WHERE name = ?", name);
  }
}

/** A message cut into row-sized pieces, never inside a UTF-8 sequence (at most 3 bytes shorter). */
export function splitRows(message: Uint8Array): Uint8Array[] {
  if (message.byteLength <= STREAM_CHUNK_MAX_BYTES) return [message];
  const rows: Uint8Array[] = [];
  let start = 0;
  while (start < message.byteLength) {
    let end = Math.min(start + STREAM_CHUNK_MAX_BYTES, message.byteLength);
    if (end < message.byteLength) {
      let backedOff = 0;
      while (backedOff < 3 && ((message[end] ?? 0) & 0xc0) === 0x80) {
        end--;
        backedOff++;
      }
    }
    rows.push(message.subarray(start, end));
    start = end;
  }
  return rows;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : (bytes.slice().buffer as ArrayBuffer);
}
