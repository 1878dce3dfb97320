import type { ErrorType } from "@bd3-serve/shared";
import { CORS_HEADERS, SECURITY_HEADERS } from "./protocol-headers.ts";
import type { StreamRoomOptions } from "./room-options.ts";

/**
 * Response construction for the stream room: every answer, errors included, carries the security headers
 * (and CORS where the mount allows browsers). Errors use the API's JSON error body, so a client learns which
 * header or parameter was wrong; protocol clients read only the status and headers, as PROTOCOL.md asks.
 */

export type HeaderMap = Record<string, string>;

export function finalHeaders(options: Pick<StreamRoomOptions, "cors">, headers: HeaderMap = {}): Headers {
  const out = new Headers(SECURITY_HEADERS);
  if (options.cors) for (const [name, value] of Object.entries(CORS_HEADERS)) out.set(name, value);
  for (const [name, value] of Object.entries(headers)) out.set(name, value);
  return out;
}

export interface StreamErrorOptions {
  param?: string;
  code?: string;
  headers?: HeaderMap;
}

export function streamError(
  options: Pick<StreamRoomOptions, "cors">,
  status: number,
  type: ErrorType,
  message: string,
  { param, code, headers = {} }: StreamErrorOptions = {},
): Response {
  const body = { error: { type, message, ...(param ? { param } : {}), ...(code ? { code } : {}) } };
  return new Response(JSON.stringify(body), {
    status,
    headers: finalHeaders(options, { ...headers, "Content-Type": "application/json" }),
  });
}

export function notFound(options: Pick<StreamRoomOptions, "cors">): Response {
  return streamError(options, 404, "not_found_error", "no such stream");
}

export function gone(options: Pick<StreamRoomOptions, "cors">): Response {
  return streamError(options, 410, "gone_error", "the stream was deleted");
}
