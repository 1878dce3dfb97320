import { concat, jsonValues } from "./bytes.ts";
import { isJsonContentType, sameMediaType } from "./content-type.ts";
import { joinJsonMessages } from "./json-messages.ts";
import { isExpired } from "./lifecycle.ts";
import { formatOffset, parseOffset } from "./offsets.ts";
import type { StreamStore } from "./stream-store.ts";
import type { StreamMeta } from "./stream-tables.ts";

/**
 * Forks (PROTOCOL.md section 4.2), copy-on-fork: the fork gets its own copy of the source's rows up to the
 * fork offset (the offset space is shared, so a position means the same byte in both), plus, with
 * `Stream-Fork-Sub-Offset`, a prefix of the append that starts at that offset materialized as its first own
 * append. Copying costs the inherited bytes once; in exchange reads never stitch chains and a fork never
 * depends on its source's rows, whose lifetime is then only a matter of reference counts (lifecycle.ts).
 * Producer and `Stream-Seq` state are never inherited.
 */

export interface ForkRequest {
  name: string;
  sourceName: string;
  /** `Stream-Fork-Offset` as sent; absent means the source's tail. */
  forkOffset: string | null;
  subOffset: number;
  /** Content type asked for; null inherits the source's. */
  contentType: string | null;
  ttlSeconds: number | null;
  expiresAt: string | null;
  expiresAtMs: number | null;
  nowMs: number;
}

export type ForkOutcome =
  | { ok: true; stream: StreamMeta }
  | { ok: false; status: 400 | 404 | 409; message: string; param?: string };

export function createFork(store: StreamStore, request: ForkRequest): ForkOutcome {
  const source = store.find(request.sourceName);
  if (source === null || (!source.isSoftDeleted && isExpired(source, request.nowMs))) {
    return { ok: false, status: 404, message: "the source stream does not exist", param: "Stream-Forked-From" };
  }
  if (source.isSoftDeleted) {
    return { ok: false, status: 409, message: "the source stream was deleted", param: "Stream-Forked-From" };
  }
  if (request.contentType !== null && !sameMediaType(request.contentType, source.contentType)) {
    return { ok: false, status: 409, message: "Content-Type differs from the source stream's", param: "Content-Type" };
  }
  let anchor = source.tailPosition;
  if (request.forkOffset !== null) {
    const parsed = parseOffset(request.forkOffset);
    if (parsed.kind !== "position") {
      return { ok: false, status: 400, message: "Stream-Fork-Offset is malformed", param: "Stream-Fork-Offset" };
    }
    anchor = parsed.position;
  }
  if (anchor > source.tailPosition) {
    return {
      ok: false,
      status: 400,
      message: "Stream-Fork-Offset is past the source's tail",
      param: "Stream-Fork-Offset",
    };
  }
  const prefix = request.subOffset > 0 ? subOffsetPrefix(store, source, anchor, request.subOffset) : new Uint8Array();
  if (prefix === null) {
    return {
      ok: false,
      status: 400,
      message: "Stream-Fork-Sub-Offset is past the append that starts at the fork offset",
      param: "Stream-Fork-Sub-Offset",
    };
  }
  const expiry = forkExpiry(request, source);
  store.create({
    name: request.name,
    contentType: source.contentType,
    ...expiry,
    nowMs: request.nowMs,
    forkOf: source.name,
    forkOffset: request.forkOffset ?? formatOffset(anchor),
    forkSubOffset: request.subOffset,
  });
  let lastAppendId = -1;
  for (const row of store.rowsUpTo(source.name, anchor)) {
    const data = new Uint8Array(row.data);
    const end = Math.min(row.end_pos, anchor);
    store.insertRow(
      request.name,
      row.start_pos,
      end,
      row.append_id,
      Math.min(row.message_end, anchor),
      data.subarray(0, end - row.start_pos),
    );
    lastAppendId = row.append_id;
  }
  store.setTail(request.name, anchor);
  store.setForkState(request.name, { nextAppendId: lastAppendId + 1 });
  if (prefix.byteLength > 0)
    store.append(request.name, isJsonContentType(source.contentType) ? splitPrefixValues(prefix) : [prefix]);
  store.setForkState(source.name, { refCount: source.refCount + 1 });
  return { ok: true, stream: store.find(request.name) as StreamMeta };
}

/**
 * The first `subOffset` units of the append that starts at (or contains) `anchor`: bytes, or JSON messages
 * in JSON mode. Null when that append is shorter, or there is no data after the anchor.
 */
function subOffsetPrefix(store: StreamStore, source: StreamMeta, anchor: number, subOffset: number): Uint8Array | null {
  const isJson = isJsonContentType(source.contentType);
  // Bytes mode needs only `subOffset` bytes; JSON mode reads whole messages (bounded by the page's row cap).
  const page = store.read(source.name, anchor, isJson ? Number.MAX_SAFE_INTEGER : subOffset, { wholeMessages: isJson });
  const first = page.pieces[0];
  if (first === undefined) return null;
  const pieces = page.pieces.filter((piece) => piece.appendId === first.appendId);
  if (isJson) {
    const values = jsonValues(pieces);
    if (subOffset > values.length) return null;
    return joinJsonMessages(values.slice(0, subOffset));
  }
  const bytes = concat(pieces.map((piece) => piece.data));
  return subOffset > bytes.byteLength ? null : bytes.subarray(0, subOffset);
}

/** Back from the JSON array `subOffsetPrefix` built to the messages it holds. */
function splitPrefixValues(array: Uint8Array): Uint8Array[] {
  const values = JSON.parse(new TextDecoder().decode(array)) as unknown[];
  const encoder = new TextEncoder();
  return values.map((value) => encoder.encode(JSON.stringify(value)));
}

/** The fork's own TTL or Expires-At when asked; otherwise the source's (PROTOCOL.md's fork expiry table). */
function forkExpiry(request: ForkRequest, source: StreamMeta) {
  if (request.ttlSeconds !== null) return { ttlSeconds: request.ttlSeconds, expiresAt: null, expiresAtMs: null };
  if (request.expiresAt !== null) {
    return { ttlSeconds: null, expiresAt: request.expiresAt, expiresAtMs: request.expiresAtMs };
  }
  return { ttlSeconds: source.ttlSeconds, expiresAt: source.expiresAt, expiresAtMs: source.expiresAtMs };
}
