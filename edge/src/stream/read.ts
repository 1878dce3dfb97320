import { jsonValues } from "./bytes.ts";
import { isJsonContentType } from "./content-type.ts";
import { responseCursor } from "./cursor.ts";
import { joinJsonMessages } from "./json-messages.ts";
import { resolveStream } from "./lifecycle.ts";
import { STREAM_READ_PAGE_MAX_BYTES } from "./limits.ts";
import { formatOffset, parseOffset } from "./offsets.ts";
import { H, NO_STORE } from "./protocol-headers.ts";
import { finalHeaders, gone, type HeaderMap, notFound, streamError } from "./respond.ts";
import type { StreamRoomOptions } from "./room-options.ts";
import { sseResponse } from "./sse-body.ts";
import type { StreamStore } from "./stream-store.ts";
import type { StreamMeta } from "./stream-tables.ts";

/**
 * Reads (PROTOCOL.md 5.5-5.8): HEAD, catch-up GET by offset in bounded pages, long-poll, and SSE (sse-body.ts).
 * A page is at most STREAM_READ_PAGE_MAX_BYTES of whole rows, so a reader of a 64 MiB stream pulls it page by
 * page and the object never holds more than a page per request. ETags are strong and name the stream's
 * incarnation, the range and whether the range ends a closed stream, so history revalidates to a 304 and a
 * close is never hidden behind one.
 */

export type ReadStart = { kind: "position"; position: number; raw: string | null } | { kind: "now" };

/** The `offset` query parameter, or an error response: absent = the start; empty, repeated or malformed = 400. */
export function readStartOf(url: URL, options: StreamRoomOptions): ReadStart | Response {
  const offsets = url.searchParams.getAll("offset");
  if (offsets.length > 1) return badOffset(options, "give offset once");
  const raw = offsets[0];
  if (raw === undefined) return { kind: "position", position: 0, raw: null };
  const parsed = parseOffset(raw);
  if (parsed.kind === "invalid") return badOffset(options, parsed.reason);
  if (parsed.kind === "now") return { kind: "now" };
  return { kind: "position", position: parsed.kind === "start" ? 0 : parsed.position, raw };
}

function badOffset(options: StreamRoomOptions, reason: string): Response {
  return streamError(options, 400, "invalid_request_error", `invalid offset: ${reason}`, { param: "offset" });
}

export function handleHead(name: string, options: StreamRoomOptions): Response {
  const stream = resolveStream(options.store, name, options.now());
  if (stream === null) return notFound(options);
  if (stream.isSoftDeleted) return gone(options);
  const headers: HeaderMap = {
    "Content-Type": stream.contentType,
    [H.nextOffset]: formatOffset(stream.tailPosition),
    "Cache-Control": NO_STORE,
    ETag: etagOf(stream, "-1", stream.tailPosition, stream.isClosed),
  };
  if (stream.isClosed) headers[H.closed] = "true";
  if (stream.ttlSeconds !== null) headers[H.ttl] = String(stream.ttlSeconds);
  if (stream.expiresAt !== null) headers[H.expiresAt] = stream.expiresAt;
  return new Response(null, { status: 200, headers: finalHeaders(options, headers) });
}

export async function handleGet(request: Request, url: URL, name: string, options: StreamRoomOptions) {
  const start = readStartOf(url, options);
  if (start instanceof Response) return start;
  const live = url.searchParams.get("live");
  const isLive = live === "long-poll" || live === "sse";
  if (isLive && !url.searchParams.has("offset")) {
    return streamError(options, 400, "invalid_request_error", `live=${live} needs an offset`, { param: "offset" });
  }
  const { store, now } = options;
  let stream = resolveStream(store, name, now());
  if (stream === null) return notFound(options);
  if (stream.isSoftDeleted) return gone(options);
  // Any read resets a sliding TTL when the server starts processing it (PROTOCOL.md 5.1).
  store.touch(name, now());
  const position = start.kind === "now" ? stream.tailPosition : start.position;
  if (position > stream.tailPosition) {
    return badOffset(options, "the offset is past the stream's tail");
  }
  const cursor = url.searchParams.get("cursor");
  if (live === "sse") return sseResponse(request, name, stream, position, cursor, options);
  if (start.kind === "now" && live !== "long-poll") return tailAnswer(stream, options);

  const isJson = isJsonContentType(stream.contentType);
  let page = readPage(store, name, position, isJson);
  if (live === "long-poll" && page.isEmpty) {
    if (!stream.isClosed) {
      await options.notifier.wait(name, options.longPollTimeoutMs, request.signal);
      stream = resolveStream(store, name, now());
      if (stream === null) return notFound(options);
      if (stream.isSoftDeleted) return gone(options);
      store.touch(name, now());
      page = readPage(store, name, position, isJson);
    }
    if (page.isEmpty) {
      const headers: HeaderMap = { [H.nextOffset]: formatOffset(position), [H.upToDate]: "true" };
      if (stream.isClosed) headers[H.closed] = "true";
      else headers[H.cursor] = responseCursor(cursor, now());
      return new Response(null, { status: 204, headers: finalHeaders(options, headers) });
    }
  }

  const end = page.endPosition;
  const isAtTail = end === stream.tailPosition;
  const isFinal = stream.isClosed && isAtTail;
  const etag = etagOf(stream, formatOffset(position), end, isFinal);
  const headers: HeaderMap = {
    "Content-Type": stream.contentType,
    [H.nextOffset]: formatOffset(end),
    ETag: etag,
    // A range below the tail, or one that ends a closed stream, is immutable; an open tail is not.
    "Cache-Control": isAtTail && !stream.isClosed ? "no-cache" : options.historyCacheControl,
  };
  if (isAtTail) headers[H.upToDate] = "true";
  if (isFinal) headers[H.closed] = "true";
  if (live === "long-poll") headers[H.cursor] = responseCursor(cursor, now());
  if (request.headers.get("If-None-Match") === etag) {
    return new Response(null, { status: 304, headers: finalHeaders(options, headers) });
  }
  const body = isJson ? joinJsonMessages(jsonValues(page.pieces)) : pageBody(store, name, position, end);
  return new Response(body, { status: 200, headers: finalHeaders(options, headers) });
}

/**
 * A catch-up page. JSON pages are read whole (they are joined into one array); a text page is only measured
 * here, and its bytes are read by `pageBody` as the reader takes them.
 */
function readPage(store: StreamStore, name: string, position: number, isJson: boolean) {
  if (isJson) {
    const page = store.read(name, position, STREAM_READ_PAGE_MAX_BYTES, { wholeMessages: true });
    return { isEmpty: page.pieces.length === 0, endPosition: page.endPosition, pieces: page.pieces };
  }
  const endPosition = store.pageEnd(name, position, STREAM_READ_PAGE_MAX_BYTES);
  return { isEmpty: endPosition === position, endPosition, pieces: [] };
}

/**
 * The bytes of [from, to) as a body pulled by the reader one stored row (<= 128 KiB) at a time, so a reader
 * that reads slowly or not at all holds one row in the isolate, never the page. Rows below the tail never
 * change; one that vanished (the stream was deleted mid-read) ends the body with an error.
 */
function pageBody(store: StreamStore, name: string, from: number, to: number): ReadableStream<Uint8Array> {
  let position = from;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (position >= to) {
          controller.close();
          return;
        }
        const piece = store.pieceAt(name, position);
        if (piece === null || piece.startPosition !== position) {
          controller.error(new Error(`stream ${name} changed during a read at ${position}`));
          return;
        }
        const data = piece.endPosition > to ? piece.data.subarray(0, to - position) : piece.data;
        position += data.byteLength;
        controller.enqueue(data);
      },
    },
    { highWaterMark: 0 },
  );
}

/** `offset=now` without live mode: nothing but where the tail is (and whether it is final). */
function tailAnswer(stream: StreamMeta, options: StreamRoomOptions): Response {
  const headers: HeaderMap = {
    "Content-Type": stream.contentType,
    [H.nextOffset]: formatOffset(stream.tailPosition),
    [H.upToDate]: "true",
    "Cache-Control": NO_STORE,
  };
  if (stream.isClosed) headers[H.closed] = "true";
  const body = isJsonContentType(stream.contentType) ? "[]" : null;
  return new Response(body, { status: 200, headers: finalHeaders(options, headers) });
}

export function etagOf(stream: StreamMeta, start: string, endPosition: number, isFinal: boolean): string {
  return `"${stream.incarnation}:${start}:${formatOffset(endPosition)}${isFinal ? ":c" : ""}"`;
}
