import { DEFAULT_CONTENT_TYPE, isJsonContentType, isValidContentType, sameMediaType } from "./content-type.ts";
import { createFork } from "./forks.ts";
import { splitJsonMessages } from "./json-messages.ts";
import { deleteStream, resolveStream } from "./lifecycle.ts";
import { STREAM_APPEND_MAX_BYTES } from "./limits.ts";
import { formatOffset } from "./offsets.ts";
import { judgeProducer, type ProducerHeaders, type ProducerState, type ProducerVerdict } from "./producer.ts";
import { H } from "./protocol-headers.ts";
import {
  HeaderError,
  isTrueHeader,
  parseExpiry,
  parseProducer,
  parseStreamSeq,
  parseSubOffset,
} from "./request-headers.ts";
import { finalHeaders, gone, type HeaderMap, notFound, streamError } from "./respond.ts";
import type { StreamRoomOptions } from "./room-options.ts";
import type { StreamMeta } from "./stream-tables.ts";

/**
 * Writes (PROTOCOL.md 5.1-5.4): create (PUT, forks included), append and close (POST, with idempotent
 * producers and `Stream-Seq`), delete. The body is read first; everything after it (checks, producer
 * state, bytes, tail, closed flag) runs synchronously, so it is atomic in the Durable Object and concurrent
 * requests to one stream are serialized without locks.
 */

export async function handlePut(request: Request, name: string, options: StreamRoomOptions): Promise<Response> {
  const { headers } = request;
  const sourceName = headers.get(H.forkedFrom);
  const forkOffset = headers.get(H.forkOffset);
  const subOffset = parseSubOffset(headers);
  if (subOffset !== null && sourceName === null) {
    throw new HeaderError(H.forkSubOffset, "Stream-Fork-Sub-Offset needs Stream-Forked-From");
  }
  if (subOffset !== null && subOffset > 0 && forkOffset === null) {
    throw new HeaderError(H.forkSubOffset, "Stream-Fork-Sub-Offset needs Stream-Fork-Offset");
  }
  const rawType = headers.get("Content-Type");
  const askedType = rawType !== null && isValidContentType(rawType) ? rawType.trim() : null;
  const expiry = parseExpiry(headers);
  const isClosed = isTrueHeader(headers, H.closed);
  const body = await readBody(request, options);
  if (body instanceof Response) return body;
  const { store, now } = options;
  const nowMs = now();
  const existing = resolveStream(store, name, nowMs);
  if (existing !== null) {
    if (existing.isSoftDeleted) {
      return streamError(options, 409, "conflict_error", "a deleted stream with live forks holds this path");
    }
    const matches =
      sameMediaType(
        askedType ?? (sourceName === null ? DEFAULT_CONTENT_TYPE : existing.contentType),
        existing.contentType,
      ) &&
      expiry.ttlSeconds === existing.ttlSeconds &&
      expiry.expiresAt === existing.expiresAt &&
      isClosed === existing.isClosed &&
      sourceName === existing.forkOf &&
      (forkOffset === null || forkOffset === existing.forkOffset) &&
      (subOffset ?? 0) === existing.forkSubOffset;
    if (!matches) return streamError(options, 409, "conflict_error", "the stream exists with another configuration");
    return new Response(null, { status: 200, headers: finalHeaders(options, createdHeaders(existing)) });
  }
  let stream: StreamMeta;
  if (sourceName !== null) {
    const fork = createFork(store, {
      name,
      sourceName,
      forkOffset,
      subOffset: subOffset ?? 0,
      contentType: askedType,
      ...expiry,
      nowMs,
    });
    if (!fork.ok) {
      const type =
        fork.status === 404 ? "not_found_error" : fork.status === 409 ? "conflict_error" : "invalid_request_error";
      return streamError(options, fork.status, type, fork.message, { param: fork.param });
    }
    stream = fork.stream;
  } else {
    stream = store.create({ name, contentType: askedType ?? DEFAULT_CONTENT_TYPE, ...expiry, nowMs });
  }
  if (body.byteLength > 0) {
    const messages = isJsonContentType(stream.contentType) ? splitJsonMessages(body, { allowEmpty: true }) : [body];
    if (messages.length > 0) store.append(name, messages);
  }
  if (isClosed) store.close(name, null);
  options.notifier.notify(name);
  const created = store.find(name) as StreamMeta;
  const responseHeaders = { ...createdHeaders(created), Location: options.urlOf(name) };
  return new Response(null, { status: 201, headers: finalHeaders(options, responseHeaders) });
}

function createdHeaders(stream: StreamMeta): HeaderMap {
  const headers: HeaderMap = { "Content-Type": stream.contentType, [H.nextOffset]: formatOffset(stream.tailPosition) };
  if (stream.isClosed) headers[H.closed] = "true";
  return headers;
}

export async function handlePost(request: Request, name: string, options: StreamRoomOptions): Promise<Response> {
  const { headers } = request;
  const producer = parseProducer(headers);
  const streamSeq = parseStreamSeq(headers);
  const shouldClose = isTrueHeader(headers, H.closed);
  const body = await readBody(request, options);
  if (body instanceof Response) return body;
  const { store, now } = options;
  const nowMs = now();
  const stream = resolveStream(store, name, nowMs);
  if (stream === null) return notFound(options);
  if (stream.isSoftDeleted) return gone(options);
  const closedHeaders = { [H.closed]: "true", [H.nextOffset]: formatOffset(stream.tailPosition) };
  if (body.byteLength === 0 && !shouldClose) {
    return streamError(options, 400, "invalid_request_error", "an append needs a body (or Stream-Closed: true)");
  }
  if (stream.isClosed) {
    if (producer !== null && isClosingRequest(stream, producer)) return duplicate(options, producer.seq, closedHeaders);
    if (body.byteLength === 0 && producer === null) {
      return new Response(null, { status: 204, headers: finalHeaders(options, closedHeaders) });
    }
    return streamError(options, 409, "conflict_error", "the stream is closed", {
      code: "stream_closed",
      headers: closedHeaders,
    });
  }
  const contentType = headers.get("Content-Type");
  if (body.byteLength > 0) {
    if (contentType === null || contentType.trim() === "") {
      return streamError(options, 400, "invalid_request_error", "an append needs a Content-Type", {
        param: "Content-Type",
      });
    }
    if (!sameMediaType(contentType, stream.contentType)) {
      return streamError(options, 409, "conflict_error", `the stream's Content-Type is ${stream.contentType}`, {
        param: "Content-Type",
      });
    }
  }
  let acceptedProducer: ProducerState | null = null;
  if (producer !== null) {
    const verdict = judgeProducer(store.producer(name, producer.producerId), producer);
    if (verdict.kind !== "accepted") return producerRefusal(options, verdict);
    // The state is saved below, in the same synchronous step as the bytes.
    acceptedProducer = verdict.next;
  }
  if (streamSeq !== null && stream.lastStreamSeq !== null && streamSeq <= stream.lastStreamSeq) {
    return streamError(options, 409, "conflict_error", `Stream-Seq must be above ${stream.lastStreamSeq}`, {
      param: H.seq,
      code: "stream_seq_regression",
    });
  }
  let tail = stream.tailPosition;
  if (body.byteLength > 0) {
    const messages = isJsonContentType(stream.contentType) ? splitJsonMessages(body, { allowEmpty: false }) : [body];
    tail = store.append(name, messages);
  }
  if (producer !== null && acceptedProducer !== null)
    store.saveProducer(name, producer.producerId, acceptedProducer, nowMs);
  if (streamSeq !== null) store.setLastStreamSeq(name, streamSeq);
  if (shouldClose) store.close(name, producer === null ? null : { ...producer });
  store.touch(name, nowMs);
  options.notifier.notify(name);
  const responseHeaders: HeaderMap = { [H.nextOffset]: formatOffset(tail) };
  if (shouldClose) responseHeaders[H.closed] = "true";
  if (producer === null) return new Response(null, { status: 204, headers: finalHeaders(options, responseHeaders) });
  responseHeaders[H.producerEpoch] = String(producer.epoch);
  responseHeaders[H.producerSeq] = String(producer.seq);
  // A close-only request has no new data: 204 like every close; an accepted append is 200.
  const status = body.byteLength === 0 ? 204 : 200;
  return new Response(null, { status, headers: finalHeaders(options, responseHeaders) });
}

function producerRefusal(options: StreamRoomOptions, verdict: Exclude<ProducerVerdict, { kind: "accepted" }>) {
  switch (verdict.kind) {
    case "duplicate":
      return duplicate(options, verdict.lastSeq, {});
    case "stale_epoch":
      return streamError(options, 403, "permission_error", "a newer producer epoch exists", {
        code: "stale_epoch",
        headers: { [H.producerEpoch]: String(verdict.currentEpoch) },
      });
    case "invalid_epoch_seq":
      return streamError(options, 400, "invalid_request_error", "a new epoch starts at Producer-Seq 0", {
        param: H.producerSeq,
      });
    case "sequence_gap":
      return streamError(options, 409, "conflict_error", `expected Producer-Seq ${verdict.expectedSeq}`, {
        code: "sequence_gap",
        headers: {
          [H.producerExpectedSeq]: String(verdict.expectedSeq),
          [H.producerReceivedSeq]: String(verdict.receivedSeq),
        },
      });
  }
}

function isClosingRequest(stream: StreamMeta, producer: ProducerHeaders): boolean {
  const by = stream.closedBy;
  return by !== null && by.producerId === producer.producerId && by.epoch === producer.epoch && by.seq === producer.seq;
}

function duplicate(options: StreamRoomOptions, lastSeq: number, headers: HeaderMap): Response {
  return new Response(null, {
    status: 204,
    headers: finalHeaders(options, { ...headers, [H.producerSeq]: String(lastSeq) }),
  });
}

export function handleDelete(name: string, options: StreamRoomOptions): Response {
  const outcome = deleteStream(options.store, name, options.now());
  if (outcome === "not_found") return notFound(options);
  if (outcome === "gone") return gone(options);
  options.notifier.notify(name);
  return new Response(null, { status: 204, headers: finalHeaders(options) });
}

/** The request body, at most STREAM_APPEND_MAX_BYTES (a 413 beyond, also for a chunked body). */
async function readBody(request: Request, options: StreamRoomOptions): Promise<Uint8Array | Response> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  const tooLarge = () =>
    streamError(options, 413, "payload_too_large_error", `an append is at most ${STREAM_APPEND_MAX_BYTES} bytes`);
  if (declared > STREAM_APPEND_MAX_BYTES) return tooLarge();
  const body = new Uint8Array(await request.arrayBuffer());
  return body.byteLength > STREAM_APPEND_MAX_BYTES ? tooLarge() : body;
}
