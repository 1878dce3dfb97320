/**
 * Content types of streams. The protocol compares media types only (`application/json; charset=utf-8` is
 * `application/json`), case-insensitively; JSON mode and text streams change how bytes are framed on reads.
 */

/** Used when a create names no (or no valid) content type, as PROTOCOL.md 5.1 allows. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

const MEDIA_TYPE_PATTERN = /^[\w.+-]+\/[\w.+-]+/;

export function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

export function sameMediaType(a: string, b: string): boolean {
  return mediaType(a) === mediaType(b);
}

export function isValidContentType(contentType: string): boolean {
  return MEDIA_TYPE_PATTERN.test(contentType.trim());
}

export function isJsonContentType(contentType: string): boolean {
  return mediaType(contentType) === "application/json";
}

/** Text streams and JSON carry UTF-8 in SSE `data` events; every other type is base64-encoded there. */
export function isTextualContentType(contentType: string): boolean {
  const type = mediaType(contentType);
  return type.startsWith("text/") || type === "application/json";
}
