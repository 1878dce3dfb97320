import type { WorkerCallErrorCode } from "@bd3-serve/shared";

/**
 * A worker-to-edge call that did not succeed. `status` is the HTTP status (undefined for a network error or a
 * timeout); `code` is the edge's 409 code (`stale_epoch`, `job_terminal`, ...) when it sent one.
 */
export class EdgeCallError extends Error {
  override name = "EdgeCallError";
  readonly status: number | undefined;
  readonly code: WorkerCallErrorCode | string | undefined;
  readonly type: string | undefined;
  /** True for errors worth another attempt later (5xx, network, timeout). */
  readonly isRetryable: boolean;
  /** The edge's `Retry-After`, in seconds, when it sent one (e.g. with `lease_held`). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    details: {
      status?: number;
      code?: string;
      type?: string;
      isRetryable: boolean;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: details.cause });
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.status = details.status;
    this.code = details.code;
    this.type = details.type;
    this.isRetryable = details.isRetryable;
  }
}

export function isEdgeCallError(error: unknown, code?: WorkerCallErrorCode): error is EdgeCallError {
  return error instanceof EdgeCallError && (code === undefined || error.code === code);
}

/** The edge's JSON error body `{ error: { type, code, message } }`, as far as it parses (empty otherwise). */
export function parseErrorBody(text: string): { type?: string; code?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { error?: { type?: unknown; code?: unknown; message?: unknown } };
    const error = body.error ?? {};
    return {
      ...(typeof error.type === "string" ? { type: error.type } : {}),
      ...(typeof error.code === "string" ? { code: error.code } : {}),
      ...(typeof error.message === "string" ? { message: error.message } : {}),
    };
  } catch {
    return {};
  }
}
