import { concat, jsonValues } from "./bytes.ts";
import { isJsonContentType, isTextualContentType } from "./content-type.ts";
import { responseCursor } from "./cursor.ts";
import { joinJsonMessages } from "./json-messages.ts";
import { resolveStream } from "./lifecycle.ts";
import { STREAM_SSE_PAGE_MAX_BYTES } from "./limits.ts";
import { formatOffset } from "./offsets.ts";
import { H } from "./protocol-headers.ts";

import { finalHeaders } from "./respond.ts";
import type { StreamRoomOptions } from "./room-options.ts";
import type { StreamMeta } from "./stream-tables.ts";

/**
 * SSE mode (PROTOCOL.md 5.8), paced by the reader: the body is a pull-based stream that reads the next page
 * from storage only when the client has taken the previous one, so a reader far behind costs one page of
 * memory however long the stream is, and a paused reader costs nothing. Every `data` event is followed by a
 * `control` event with the offset after it, so a client that reconnects from its last control event neither
 * repeats nor skips a byte. At the tail the reader waits for a wake-up (or sends a keep-alive control every
 * long-poll interval); a closed stream ends with `streamClosed` and the connection closes; any connection
 * ends after `sseConnectionMaxMs` so the client reconnects (and CDNs can collapse readers).
 */

type Encoding = "text" | "json" | "base64";

const encoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function sseResponse(
  request: Request,
  name: string,
  stream: StreamMeta,
  startPosition: number,
  clientCursor: string | null,
  options: StreamRoomOptions,
): Response {
  const encoding: Encoding = isJsonContentType(stream.contentType)
    ? "json"
    : isTextualContentType(stream.contentType)
      ? "text"
      : "base64";
  const headers: Record<string, string> = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
  };
  if (encoding === "base64") headers[H.sseDataEncoding] = "base64";
  const body = sseStream(request.signal, name, startPosition, clientCursor, encoding, options);
  return new Response(body, { status: 200, headers: finalHeaders(options, headers) });
}

function sseStream(
  signal: AbortSignal,
  name: string,
  startPosition: number,
  clientCursor: string | null,
  encoding: Encoding,
  options: StreamRoomOptions,
): ReadableStream<Uint8Array> {
  const { store, notifier, now } = options;
  const openedAtMs = now();
  const abort = new AbortController();
  signal.addEventListener("abort", () => abort.abort(), { once: true });
  let position = startPosition;
  /** True once a control event told the client it is caught up at `position`. */
  let hasSaidUpToDate = false;

  const control = (stream: StreamMeta, isUpToDate: boolean): string => {
    const isFinal = stream.isClosed && position === stream.tailPosition;
    const fields: Record<string, unknown> = { streamNextOffset: formatOffset(position) };
    if (isFinal) fields.streamClosed = true;
    else {
      fields.streamCursor = responseCursor(clientCursor, now());
      if (isUpToDate) fields.upToDate = true;
    }
    return event("control", JSON.stringify(fields));
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const stream = resolveStream(store, name, now());
          if (stream === null || stream.isSoftDeleted || abort.signal.aborted) {
            controller.close();
            return;
          }
          const page = store.read(name, position, STREAM_SSE_PAGE_MAX_BYTES, { wholeMessages: encoding === "json" });
          if (page.pieces.length > 0) {
            position = page.endPosition;
            const isUpToDate = position === stream.tailPosition;
            hasSaidUpToDate = isUpToDate;
            controller.enqueue(
              encoder.encode(event("data", payloadOf(page.pieces, encoding)) + control(stream, isUpToDate)),
            );
            if (stream.isClosed && isUpToDate) controller.close();
            return;
          }
          if (stream.isClosed) {
            controller.enqueue(encoder.encode(control(stream, true)));
            controller.close();
            return;
          }
          if (!hasSaidUpToDate) {
            hasSaidUpToDate = true;
            controller.enqueue(encoder.encode(control(stream, true)));
            return;
          }
          const remainingMs = options.sseConnectionMaxMs - (now() - openedAtMs);
          if (remainingMs <= 0) {
            controller.close();
            return;
          }
          const isWoken = await notifier.wait(name, Math.min(options.longPollTimeoutMs, remainingMs), abort.signal);
          store.touch(name, now());
          if (!isWoken) {
            const current = resolveStream(store, name, now());
            if (
              current !== null &&
              !current.isSoftDeleted &&
              !current.isClosed &&
              now() - openedAtMs < options.sseConnectionMaxMs
            ) {
              controller.enqueue(encoder.encode(control(current, true)));
              return;
            }
          }
        }
      },
      cancel() {
        abort.abort();
      },
    },
    { highWaterMark: 0 },
  );
}

function payloadOf(pieces: Parameters<typeof jsonValues>[0], encoding: Encoding): string {
  if (encoding === "json") return textDecoder.decode(joinJsonMessages(jsonValues(pieces)));
  const bytes = concat(pieces.map((piece) => piece.data));
  return encoding === "base64" ? toBase64(bytes) : textDecoder.decode(bytes);
}

/** One SSE event; every line of the payload gets its own `data:` line, so no payload can end the event early. */
export function event(type: string, payload: string): string {
  let frame = `event: ${type}\n`;
  for (const line of payload.split(/\r\n|\r|\n/)) frame += `data:${line}\n`;
  return `${frame}\n`;
}

/** Standard base64 (RFC 4648), in slices so large pages do not overflow the argument list of fromCharCode. */
function toBase64(bytes: Uint8Array): string {
  const SLICE_BYTES = 0x8000;
  let binary = "";
  for (let at = 0; at < bytes.byteLength; at += SLICE_BYTES) {
    binary += String.fromCharCode(...bytes.subarray(at, at + SLICE_BYTES));
  }
  return btoa(binary);
}
