import { StreamStore } from "../stream/index.ts";

/** The job's document is this stream of the object's stream room. */
export const DOCUMENT_STREAM = "document";
/** Its content type: a read of `/v1/generations/:id/text` is plain UTF-8 text. */
export const DOCUMENT_CONTENT_TYPE = "text/plain; charset=utf-8";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A job's document: one bytes-mode stream in the job object's stream room (edge/src/stream/), holding the
 * text of every committed block in order. Tenants read it with the Durable Streams protocol
 * (`GET /v1/generations/:id/text`); the block log (block-log.ts) maps each block to its byte range here, so
 * `/blocks` and the SSE block events read the same bytes.
 *
 * Lifecycle: created with the job (open), appended to by the lease holder's blocks, closed when the job
 * reaches a terminal status (readers then see `Stream-Closed`), emptied when the job's retention ends.
 * Trade-off: a block's text is stored once (here) and read by range; nothing keeps the whole document in
 * memory, and no row is larger than the stream room's 128 KiB rows.
 */
export class JobDocument {
  constructor(readonly streams: StreamStore) {}

  static on(sql: SqlStorage): JobDocument {
    return new JobDocument(new StreamStore(sql));
  }

  /** The document stream, once; `isNewObject` (nothing stored yet) skips the probe for an existing one. */
  create(nowMs: number, isNewObject = false): void {
    if (!isNewObject && this.streams.find(DOCUMENT_STREAM) !== null) return;
    this.streams.create({
      name: DOCUMENT_STREAM,
      contentType: DOCUMENT_CONTENT_TYPE,
      ttlSeconds: null,
      expiresAt: null,
      expiresAtMs: null,
      nowMs,
    });
  }

  exists(): boolean {
    return this.streams.find(DOCUMENT_STREAM) !== null;
  }

  /** Appends one block's text; returns its byte range. */
  append(text: string): { startByte: number; endByte: number } {
    const bytes = encoder.encode(text);
    if (bytes.byteLength === 0) {
      const tail = this.byteLength();
      return { startByte: tail, endByte: tail };
    }
    // The store answers the new tail; the block starts its length before it (no second read of the stream row).
    const endByte = this.streams.append(DOCUMENT_STREAM, [bytes]);
    return { startByte: endByte - bytes.byteLength, endByte };
  }

  byteLength(): number {
    return this.streams.find(DOCUMENT_STREAM)?.tailPosition ?? 0;
  }

  /** The text of bytes [startByte, endByte): block boundaries never split a UTF-8 character. */
  text(startByte: number, endByte: number): string {
    if (endByte <= startByte) return "";
    const parts: Uint8Array[] = [];
    let position = startByte;
    while (position < endByte) {
      const page = this.streams.read(DOCUMENT_STREAM, position, endByte - position);
      if (page.pieces.length === 0) break;
      for (const piece of page.pieces) {
        parts.push(piece.data.subarray(0, Math.min(piece.data.byteLength, endByte - piece.startPosition)));
      }
      position = page.endPosition;
    }
    let text = "";
    for (const part of parts) text += decoder.decode(part, { stream: true });
    return text + decoder.decode();
  }

  close(): void {
    if (this.exists()) this.streams.close(DOCUMENT_STREAM, null);
  }

  /** Deletes the document's bytes (retention); the stream itself is gone afterwards. */
  purge(): void {
    this.streams.remove(DOCUMENT_STREAM);
  }
}
