import { PRODUCER_ID_MAX_LENGTH, STREAM_SEQ_MAX_LENGTH } from "./limits.ts";
import type { ProducerHeaders } from "./producer.ts";
import { H } from "./protocol-headers.ts";

/**
 * Parsing of the protocol's request headers. Each parser answers the value or a `HeaderError` naming the
 * header, so the handler turns every malformed header into a 400 that says which one.
 */

export class HeaderError extends Error {
  override readonly name = "HeaderError";
  constructor(
    readonly header: string,
    message: string,
  ) {
    super(message);
  }
}

/** PROTOCOL.md 4.1: only `true` (any case) counts; every other value is as if the header were absent. */
export function isTrueHeader(headers: Headers, name: string): boolean {
  return headers.get(name)?.trim().toLowerCase() === "true";
}

const DECIMAL_PATTERN = /^(0|[1-9]\d*)$/;
const DIGITS_PATTERN = /^\d+$/;

export interface Expiry {
  ttlSeconds: number | null;
  expiresAt: string | null;
  expiresAtMs: number | null;
}

/** `Stream-TTL` (decimal seconds, no sign, no leading zeros) or `Stream-Expires-At` (RFC 3339), not both. */
export function parseExpiry(headers: Headers): Expiry {
  const ttl = headers.get(H.ttl);
  const expiresAt = headers.get(H.expiresAt);
  if (ttl !== null && expiresAt !== null) {
    throw new HeaderError(H.ttl, "give Stream-TTL or Stream-Expires-At, not both");
  }
  if (ttl !== null) {
    if (!DECIMAL_PATTERN.test(ttl)) throw new HeaderError(H.ttl, "Stream-TTL must be a decimal number of seconds");
    const ttlSeconds = Number(ttl);
    if (!Number.isSafeInteger(ttlSeconds)) throw new HeaderError(H.ttl, "Stream-TTL is out of range");
    return { ttlSeconds, expiresAt: null, expiresAtMs: null };
  }
  if (expiresAt !== null) {
    const expiresAtMs = Date.parse(expiresAt);
    if (!Number.isFinite(expiresAtMs)) throw new HeaderError(H.expiresAt, "Stream-Expires-At must be an RFC 3339 time");
    return { ttlSeconds: null, expiresAt, expiresAtMs };
  }
  return { ttlSeconds: null, expiresAt: null, expiresAtMs: null };
}

/** The three producer headers together, or none (null). */
export function parseProducer(headers: Headers): ProducerHeaders | null {
  const producerId = headers.get(H.producerId);
  const epoch = headers.get(H.producerEpoch);
  const seq = headers.get(H.producerSeq);
  if (producerId === null && epoch === null && seq === null) return null;
  if (producerId === null || epoch === null || seq === null) {
    throw new HeaderError(H.producerId, "Producer-Id, Producer-Epoch and Producer-Seq go together");
  }
  if (producerId === "" || producerId.length > PRODUCER_ID_MAX_LENGTH) {
    throw new HeaderError(H.producerId, `Producer-Id must be 1-${PRODUCER_ID_MAX_LENGTH} characters`);
  }
  return {
    producerId,
    epoch: safeInteger(epoch, H.producerEpoch),
    seq: safeInteger(seq, H.producerSeq),
  };
}

function safeInteger(raw: string, header: string): number {
  const value = Number(raw);
  if (!DIGITS_PATTERN.test(raw) || !Number.isSafeInteger(value)) {
    throw new HeaderError(header, `${header} must be a non-negative integer below 2^53`);
  }
  return value;
}

/** `Stream-Seq`: an opaque writer sequence compared byte-wise. */
export function parseStreamSeq(headers: Headers): string | null {
  const seq = headers.get(H.seq);
  if (seq === null) return null;
  if (seq.length === 0 || seq.length > STREAM_SEQ_MAX_LENGTH) {
    throw new HeaderError(H.seq, `Stream-Seq must be 1-${STREAM_SEQ_MAX_LENGTH} characters`);
  }
  return seq;
}

/** `Stream-Fork-Sub-Offset`: a decimal integer (present but empty is malformed). */
export function parseSubOffset(headers: Headers): number | null {
  const raw = headers.get(H.forkSubOffset);
  if (raw === null) return null;
  if (!DECIMAL_PATTERN.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new HeaderError(H.forkSubOffset, "Stream-Fork-Sub-Offset must be a non-negative integer");
  }
  return Number(raw);
}
