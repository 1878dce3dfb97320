import type { ErrorBody, ErrorType } from "@bd3-serve/shared";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ApiErrorOptions {
  /** The offending field (dotted path) or header. */
  param?: string;
  /** Machine-readable reason where the type alone is ambiguous (e.g. `stale_epoch`). */
  code?: string;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error the edge throws on purpose: an HTTP status plus the public error body
 * `{ error: { type, message, param?, code? } }` (ErrorBodySchema). The error handler turns it into a response.
 *
 * @example
 * throw new ApiError(400, "invalid_request_error", "limit must be an integer", { param: "limit" });
 */
export class ApiError extends HTTPException {
  override readonly name = "ApiError";
  readonly type: ErrorType;
  readonly param: string | undefined;
  readonly code: string | undefined;
  readonly headers: Record<string, string>;

  constructor(status: ContentfulStatusCode, type: ErrorType, message: string, options: ApiErrorOptions = {}) {
    super(status, { message, cause: options.cause });
    this.type = type;
    this.param = options.param;
    this.code = options.code;
    this.headers = options.headers ?? {};
  }

  toBody(): ErrorBody {
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(this.param === undefined ? {} : { param: this.param }),
        ...(this.code === undefined ? {} : { code: this.code }),
      },
    };
  }
}

export function invalidRequest(message: string, param?: string, cause?: unknown): ApiError {
  return new ApiError(400, "invalid_request_error", message, { param, cause });
}

/** Unknown job and another tenant's job look the same: tenants never learn each other's ids exist. */
export function jobNotFound(jobId: string): ApiError {
  return new ApiError(404, "not_found_error", `no generation with id '${jobId.slice(0, 80)}'`, { param: "id" });
}

/** A job past its retention: it existed, its text was deleted, and it will not come back. */
export function jobGone(jobId: string): ApiError {
  return new ApiError(
    410,
    "gone_error",
    `the text of generation '${jobId.slice(0, 80)}' was deleted after its retention period`,
    {
      param: "id",
      code: "retention_expired",
    },
  );
}
