/**
 * Header names of the Durable Streams protocol and the headers every answer of the stream room carries.
 */
export const H = {
  nextOffset: "Stream-Next-Offset",
  upToDate: "Stream-Up-To-Date",
  closed: "Stream-Closed",
  cursor: "Stream-Cursor",
  ttl: "Stream-TTL",
  expiresAt: "Stream-Expires-At",
  seq: "Stream-Seq",
  forkedFrom: "Stream-Forked-From",
  forkOffset: "Stream-Fork-Offset",
  forkSubOffset: "Stream-Fork-Sub-Offset",
  sseDataEncoding: "Stream-SSE-Data-Encoding",
  producerId: "Producer-Id",
  producerEpoch: "Producer-Epoch",
  producerSeq: "Producer-Seq",
  producerExpectedSeq: "Producer-Expected-Seq",
  producerReceivedSeq: "Producer-Received-Seq",
} as const;

/** PROTOCOL.md 12.7: no MIME sniffing, explicit cross-origin policy, on every answer (errors included). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "cross-origin",
};

/** CORS for streams read by browsers: any origin, the protocol's request headers in, its answers out. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
  "Access-Control-Allow-Headers": [
    "content-type",
    "authorization",
    "if-none-match",
    "last-event-id",
    H.seq,
    H.ttl,
    H.expiresAt,
    H.closed,
    H.producerId,
    H.producerEpoch,
    H.producerSeq,
    H.forkedFrom,
    H.forkOffset,
    H.forkSubOffset,
  ].join(", "),
  "Access-Control-Expose-Headers": [
    H.nextOffset,
    H.cursor,
    H.upToDate,
    H.closed,
    H.ttl,
    H.expiresAt,
    H.sseDataEncoding,
    H.producerEpoch,
    H.producerSeq,
    H.producerExpectedSeq,
    H.producerReceivedSeq,
    "ETag",
    "Location",
    "Content-Type",
  ].join(", "),
  "Access-Control-Max-Age": "600",
};

/** HEAD and tail reads: a cached tail offset or closed flag would be wrong a moment later. */
export const NO_STORE = "no-store";
