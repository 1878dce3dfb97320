import { ERROR_TYPE_BY_STATUS, ErrorBodySchema, type ErrorType } from "@bd3-serve/shared";
import {
  type ApiError,
  type ApiErrorInit,
  AuthenticationError,
  ConflictError,
  GoneError,
  IdempotencyError,
  InternalServerError,
  InvalidRequestError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitError,
  UnsupportedMediaTypeError,
} from "../errors.ts";
import { parseRetryAfter } from "./retry-after.ts";

type ApiErrorClass = new (init: ApiErrorInit) => ApiError;

const CLASS_BY_TYPE: Record<ErrorType, ApiErrorClass> = {
  invalid_request_error: InvalidRequestError,
  authentication_error: AuthenticationError,
  permission_error: PermissionDeniedError,
  not_found_error: NotFoundError,
  gone_error: GoneError,
  conflict_error: ConflictError,
  idempotency_error: IdempotencyError,
  rate_limit_error: RateLimitError,
  payload_too_large_error: PayloadTooLargeError,
  unsupported_media_type_error: UnsupportedMediaTypeError,
  method_not_allowed_error: MethodNotAllowedError,
  api_error: InternalServerError,
};

/** What the edge's error handler calls a bare status; a bare 422 is the idempotency refusal. */
const TYPE_BY_STATUS: Partial<Record<number, ErrorType>> = { ...ERROR_TYPE_BY_STATUS, 422: "idempotency_error" };

/** The answer's request id: `x-request-id`, else `cf-ray`, else null. */
export function requestIdOf(headers: Headers): string | null {
  return headers.get("x-request-id") ?? headers.get("cf-ray") ?? null;
}

/**
 * The typed error for a non-2xx answer. The API's error body decides the class; an answer that is not one
 * (a proxy's HTML page, an empty 502) is classed by its status, its text (trimmed) as the message.
 */
export function apiErrorFrom(status: number, headers: Headers, bodyText: string, now = Date.now()): ApiError {
  const common = { status, requestId: requestIdOf(headers), retryAfterSeconds: parseRetryAfter(headers, now) };
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = undefined;
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (parsed.success) {
    const { type, message, code, param } = parsed.data.error;
    return new CLASS_BY_TYPE[type]({ ...common, type, message, code, param });
  }
  const type = TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  const text = bodyText.trim().slice(0, 500);
  return new CLASS_BY_TYPE[type]({
    ...common,
    type,
    message: text === "" ? `HTTP ${status}` : `HTTP ${status}: ${text}`,
  });
}
