import { WEBHOOK_TIMEOUT_MS } from "../config/constants.ts";
import { parseRetryAfterSeconds } from "./retry-schedule.ts";
import { signWebhook } from "./signing.ts";

export interface DeliveryRequest {
  url: string;
  messageId: string;
  body: string;
  /** The tenant's live secrets: one, or two during a rotation's overlap. */
  secrets: readonly string[];
  at: Date;
  timeoutMs?: number;
}

export type DeliveryOutcome =
  | { kind: "succeeded"; statusCode: number }
  /** 410 Gone: the receiver asks never to be called again for this endpoint. */
  | { kind: "gone"; statusCode: number }
  | { kind: "retry"; statusCode: number | null; error: string; retryAfterSeconds: number | null };

/**
 * One signed POST. Redirects are not followed (a 3xx is a failure: following one would let a receiver
 * bounce us to an internal address), the attempt is abandoned after 15 s, and only a 2xx counts.
 */
export async function deliverWebhook(request: DeliveryRequest): Promise<DeliveryOutcome> {
  const headers = {
    "content-type": "application/json",
    "user-agent": "bd3-serve-webhooks/1",
    ...signWebhook(request.secrets, request.messageId, request.body, request.at),
  };
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: "POST",
      headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(request.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
    });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return {
      kind: "retry",
      statusCode: null,
      error: timedOut ? "timeout" : `network error: ${String(error).slice(0, 200)}`,
      retryAfterSeconds: null,
    };
  }
  await response.body?.cancel();
  const statusCode = response.status;
  if (statusCode >= 200 && statusCode < 300) return { kind: "succeeded", statusCode };
  if (statusCode === 410) return { kind: "gone", statusCode };
  return {
    kind: "retry",
    statusCode,
    error: statusCode >= 300 && statusCode < 400 ? `redirect (${statusCode}) not followed` : `HTTP ${statusCode}`,
    retryAfterSeconds: parseRetryAfterSeconds(response.headers.get("retry-after"), request.at.getTime()),
  };
}
