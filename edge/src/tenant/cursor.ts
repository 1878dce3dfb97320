import { invalidRequest } from "../errors/api-error.ts";
import { fromBase64Url, toBase64UrlText } from "../http/base64url.ts";

/**
 * The list cursor is opaque to clients (`next_cursor`): base64url of `v1:<seq>`, where seq is the tenant
 * index position of the last job returned. The version prefix lets the format change without breaking
 * cursors in flight.
 */
export function encodeCursor(beforeSeq: number): string {
  return toBase64UrlText(`v1:${beforeSeq}`);
}

export function decodeCursor(cursor: string | undefined): number | null {
  if (cursor === undefined || cursor === "") return null;
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? fromBase64Url(cursor) : null;
  const match = text === null ? null : /^v1:(\d{1,15})$/.exec(text);
  if (!match?.[1]) throw invalidRequest("cursor is not a cursor this API returned", "cursor");
  return Number(match[1]);
}
