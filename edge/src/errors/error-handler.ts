import { ERROR_TYPE_BY_STATUS } from "@bd3-serve/shared";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError } from "./api-error.ts";

function respond(c: Context, error: ApiError): Response {
  return c.json(error.toBody(), error.status as ContentfulStatusCode, error.headers);
}

/** Maps any thrown value to the public error body; unknown errors become a 500 that leaks nothing. */
export const errorHandler: ErrorHandler = (error, c) => {
  if (error instanceof ApiError) return respond(c, error);
  if (error instanceof HTTPException) {
    const type = ERROR_TYPE_BY_STATUS[error.status] ?? (error.status >= 500 ? "api_error" : "invalid_request_error");
    const message = error.message || "request refused";
    return respond(c, new ApiError(error.status as ContentfulStatusCode, type, message, { cause: error }));
  }
  const requestId: unknown = c.get("requestId");
  console.error(
    JSON.stringify({ event: "unhandled_error", request_id: requestId, path: c.req.path, error: String(error) }),
  );
  return respond(c, new ApiError(500, "api_error", "internal error; retry later", { cause: error }));
};

export const notFoundHandler: NotFoundHandler = (c) =>
  respond(c, new ApiError(404, "not_found_error", `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`));
