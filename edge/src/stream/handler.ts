import { JsonBodyError } from "./json-messages.ts";
import { handleGet, handleHead } from "./read.ts";
import { HeaderError } from "./request-headers.ts";
import { finalHeaders, streamError } from "./respond.ts";
import type { StreamRoomOptions } from "./room-options.ts";
import { handleDelete, handlePost, handlePut } from "./write.ts";

/**
 * The Durable Streams protocol on one stream of the hosting Durable Object: `name` is the stream, `options`
 * the storage and the mount's policy. Malformed headers and bodies become 400s naming the header; a
 * read-only mount answers 405 to writes with the methods it allows.
 *
 * @example
 * // in a Durable Object's fetch
 * return handleStreamRequest(request, "document", { store, notifier, access: "read-only", ... });
 */
export async function handleStreamRequest(
  request: Request,
  name: string,
  options: StreamRoomOptions,
): Promise<Response> {
  const method = request.method.toUpperCase();
  const isWrite = method === "PUT" || method === "POST" || method === "DELETE";
  try {
    if (method === "OPTIONS") return new Response(null, { status: 204, headers: finalHeaders(options) });
    if (isWrite && options.access === "read-only") {
      return streamError(options, 405, "method_not_allowed_error", "this stream is read-only", {
        headers: { Allow: "GET, HEAD, OPTIONS" },
      });
    }
    switch (method) {
      case "GET":
        return await handleGet(request, new URL(request.url), name, options);
      case "HEAD":
        return handleHead(name, options);
      case "PUT":
        return await handlePut(request, name, options);
      case "POST":
        return await handlePost(request, name, options);
      case "DELETE":
        return handleDelete(name, options);
      default:
        return streamError(options, 405, "method_not_allowed_error", `${method} is not a stream operation`, {
          headers: { Allow: "GET, HEAD, POST, PUT, DELETE, OPTIONS" },
        });
    }
  } catch (error) {
    if (error instanceof HeaderError) {
      return streamError(options, 400, "invalid_request_error", error.message, { param: error.header });
    }
    if (error instanceof JsonBodyError) {
      return streamError(options, 400, "invalid_request_error", error.message, { param: "body" });
    }
    throw error;
  }
}
