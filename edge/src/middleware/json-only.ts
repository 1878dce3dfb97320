import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../errors/api-error.ts";

/**
 * Body guard for POST routes: a size cap (413, also for chunked bodies without Content-Length) and, when
 * a body is present, `Content-Type: application/json` (415).
 */
export function jsonBody({ maxBytes }: { maxBytes: number }) {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, "payload_too_large_error", `request body must be at most ${maxBytes} bytes`);
    },
  });
  const contentType = createMiddleware<AppEnv>(async function jsonContentType(c, next) {
    const hasBody =
      c.req.header("Content-Length") !== undefined ? c.req.header("Content-Length") !== "0" : !!c.req.raw.body;
    const type = c.req.header("Content-Type") ?? "";
    if (hasBody && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError(415, "unsupported_media_type_error", "request body must be application/json", {
        param: "Content-Type",
      });
    }
    await next();
  });
  return [limit, contentType] as const;
}
