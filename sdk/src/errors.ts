import type { ErrorType } from "@bd3-serve/shared";

/**
 * Every error the SDK throws is a `Bd3Error`. Errors the API answered are `ApiError`s (one subclass per
 * error `type`), carrying the HTTP status, the API's `type`, `code` and `param`, and the request id; failures
 * that never got an answer are `ConnectionError` / `RequestTimeoutError`, with the underlying error as
 * `cause`.
 */
export class Bd3Error extends Error {
  override name = "Bd3Error";
}

export interface ApiErrorInit {
  status: number;
  type: ErrorType;
  message: string;
  code?: string | null | undefined;
  param?: string | null | undefined;
  requestId?: string | null | undefined;
  /** Seconds from `Retry-After`, when the answer had one. */
  retryAfterSeconds?: number | null | undefined;
  cause?: unknown;
}

/** An error answer of the API: `{ error: { type, message, param?, code? } }` with its HTTP status. */
export class ApiError extends Bd3Error {
  override name = "ApiError";
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  /** `x-request-id` (or `cf-ray`) of the answer; null when it had neither. */
  readonly requestId: string | null;
  readonly retryAfterSeconds: number | null;

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.type = init.type;
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.requestId = init.requestId ?? null;
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }
}

export class InvalidRequestError extends ApiError {
  override name = "InvalidRequestError";
}
export class AuthenticationError extends ApiError {
  override name = "AuthenticationError";
}
export class PermissionDeniedError extends ApiError {
  override name = "PermissionDeniedError";
}
export class NotFoundError extends ApiError {
  override name = "NotFoundError";
}
/** The job existed and its text was deleted after its retention period. */
export class GoneError extends ApiError {
  override name = "GoneError";
}
export class ConflictError extends ApiError {
  override name = "ConflictError";
}
/** The Idempotency-Key was already used with a different body. */
export class IdempotencyError extends ApiError {
  override name = "IdempotencyError";
}
export class RateLimitError extends ApiError {
  override name = "RateLimitError";
}
export class PayloadTooLargeError extends ApiError {
  override name = "PayloadTooLargeError";
}
export class UnsupportedMediaTypeError extends ApiError {
  override name = "UnsupportedMediaTypeError";
}
export class MethodNotAllowedError extends ApiError {
  override name = "MethodNotAllowedError";
}
/** `api_error`, or any 5xx: the server's fault; retried before it reaches the caller. */
export class InternalServerError extends ApiError {
  override name = "InternalServerError";
}

/** No answer: DNS, refused or reset connection, a body cut short. `cause` is what fetch threw. */
export class ConnectionError extends Bd3Error {
  override name = "ConnectionError";
}

/** No answer within `timeoutMs`. */
export class RequestTimeoutError extends ConnectionError {
  override name = "RequestTimeoutError";
}

/** The caller's AbortSignal fired. `cause` is the signal's reason. */
export class AbortError extends Bd3Error {
  override name = "AbortError";
}

/** An answer that does not match the API's schema (an SDK/server version mismatch, a proxy's page). */
export class ResponseValidationError extends Bd3Error {
  override name = "ResponseValidationError";
  readonly status: number;
  readonly requestId: string | null;

  constructor(message: string, options: { status: number; requestId: string | null; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.status = options.status;
    this.requestId = options.requestId;
  }
}

/** The block stream broke its contract (an index out of order, a malformed event) more often than retried. */
export class StreamProtocolError extends Bd3Error {
  override name = "StreamProtocolError";
}

/** `wait()` gave up before the job reached a terminal status. */
export class WaitTimeoutError extends Bd3Error {
  override name = "WaitTimeoutError";
  readonly generationId: string;

  constructor(generationId: string, timeoutMs: number) {
    super(`generation ${generationId} is not finished after ${timeoutMs} ms`);
    this.generationId = generationId;
  }
}
