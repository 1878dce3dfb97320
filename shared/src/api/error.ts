import { z } from "zod";

export const ErrorTypeSchema = z.enum([
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  /** The resource existed and is gone for good (a deleted stream, a job past its retention). */
  "gone_error",
  "conflict_error",
  "idempotency_error",
  "rate_limit_error",
  "payload_too_large_error",
  "unsupported_media_type_error",
  "method_not_allowed_error",
  "api_error",
]);
export type ErrorType = z.infer<typeof ErrorTypeSchema>;

/** Every error the edge returns: `{ error: { type, message, param?, code? } }`. */
export const ErrorBodySchema = z.strictObject({
  error: z.strictObject({
    type: ErrorTypeSchema,
    message: z.string(),
    /** The offending field (dotted path) or header, when one is to blame. */
    param: z.string().optional(),
    /** A machine-readable reason where the type alone is ambiguous (e.g. `stale_epoch`, `block_gap`). */
    code: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/**
 * The error type a bare HTTP status stands for (an edge HTTPException, or an answer that lacks the API's error
 * body as a client sees it): one table for the edge's error handler and the SDK's error mapping.
 */
export const ERROR_TYPE_BY_STATUS: Partial<Record<number, ErrorType>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  405: "method_not_allowed_error",
  409: "conflict_error",
  410: "gone_error",
  413: "payload_too_large_error",
  415: "unsupported_media_type_error",
  429: "rate_limit_error",
};
