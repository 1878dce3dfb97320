/**
 * Sizes and timings of the stream room, each with its unit and the limit it encodes.
 */

/** Largest row of stream bytes. Durable Object SQLite caps a row at 2 MB; small rows keep reads paced. */
export const STREAM_CHUNK_MAX_BYTES = 128 * 1024;
/** A catch-up GET answers at most about this much (whole rows; JSON pages end on a message). */
export const STREAM_READ_PAGE_MAX_BYTES = 1024 * 1024;
/**
 * One SSE `data` event carries at most about this much, so a reader far behind is paced page by page. It is
 * also what a paused reader holds: the one page the runtime pulled before the socket stopped draining.
 */
export const STREAM_SSE_PAGE_MAX_BYTES = 64 * 1024;
/** Rows one read may scan (JSON streams of tiny messages): bounds the work of one request. */
export const STREAM_READ_PAGE_MAX_ROWS = 4_096;
/** Largest append body. The conformance suite offers 10 MB; more than this is a 413. */
export const STREAM_APPEND_MAX_BYTES = 16 * 1024 * 1024;
/** A long-poll with nothing new answers 204 after this long, in seconds (configurable: STREAM_LONG_POLL_SECONDS). */
export const STREAM_LONG_POLL_SECONDS_DEFAULT = 20;
/** An SSE connection is closed after about this long so CDNs can collapse readers (PROTOCOL.md 10.2). */
export const STREAM_SSE_CONNECTION_MAX_MS = 60_000;
/** Stream names (paths under the mount) are at most this many characters. */
export const STREAM_NAME_MAX_LENGTH = 512;
/** `Stream-Seq` values are at most this many characters. */
export const STREAM_SEQ_MAX_LENGTH = 256;
/** `Producer-Id` values are at most this many characters. */
export const PRODUCER_ID_MAX_LENGTH = 256;
