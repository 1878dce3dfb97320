/** The paths of the OpenAPI document; schemas are referenced from components (see document.ts). */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const json = (name: string) => ({ "application/json": { schema: ref(name) } });
export const error = (description: string) => ({ description, content: json("Error") });

export const ID = { name: "id", in: "path", required: true, schema: { type: "string" } };
export const COMMON_ERRORS = {
  "401": error("missing, invalid, revoked or expired API key"),
  "403": error("the API key lacks the scope this route needs (permission_error names it)"),
  "404": error("no such generation (or another tenant's)"),
  "429": error("rate limited; see Retry-After"),
};

const workerCall = (summary: string, request: string, replyName: string) => ({
  post: {
    summary,
    security: [{ jobCapability: [] }],
    parameters: [ID],
    requestBody: { required: true, content: json(request) },
    responses: {
      "200": { description: "done", content: json(replyName) },
      "400": error("invalid body"),
      "401": error("missing or invalid capability"),
      "404": error("no such job"),
      "409": error(
        "refused: code is stale_epoch, block_gap, block_conflict, generation_ended, job_terminal, not_leased, lease_held (see Retry-After) or max_tokens_exceeded",
      ),
    },
  },
});

export function operations(): Record<string, unknown> {
  return {
    "/v1/generations": {
      post: {
        summary: "Create a generation job",
        description:
          "The job waits in the queue of its model and priority (0 low, 1 normal by default, 2 high): workers start " +
          "a higher priority first and keep a bounded share for low. While queued, GET shows queue_position (jobs " +
          "of the same model and priority ahead of it) and estimated_start_at. A priority above the API key's " +
          "priority_max is a 403 (param: priority, code: priority_not_allowed).",
        parameters: [
          { name: "Idempotency-Key", in: "header", schema: { type: "string", maxLength: 255 } },
          { name: "Prefer", in: "header", schema: { type: "string", examples: ["wait=10"] } },
          {
            name: "Cancel-After",
            in: "header",
            description: "alias of timeout_seconds: a duration such as 90s, 5m or 1h30m",
            schema: { type: "string", examples: ["5m"] },
          },
          { name: "x-request-id", in: "header", schema: { type: "string", maxLength: 128 } },
        ],
        requestBody: { required: true, content: json("CreateGenerationRequest") },
        responses: {
          "200": { description: "finished within Prefer: wait", content: json("Generation") },
          "202": { description: "queued or running", content: json("Generation") },
          "400": error("invalid request"),
          "413": error("body too large"),
          "415": error("not application/json"),
          "422": error("Idempotency-Key reused with a different body"),
          ...COMMON_ERRORS,
          "403": error(
            "the API key lacks generations:write, or asks for a priority above its priority_max (param: priority)",
          ),
        },
      },
      get: {
        summary: "List the tenant's generations, newest first",
        parameters: [
          { name: "status", in: "query", schema: { type: "string" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100 } },
          { name: "cursor", in: "query", schema: { type: "string" } },
        ],
        responses: { "200": { description: "a page", content: json("GenerationList") }, ...COMMON_ERRORS },
      },
    },
    "/v1/webhook-secret": {
      get: {
        summary:
          "The tenant's webhook signing secret, the previous one during its rotation, and `signing_secrets`: every secret signing deliveries now (an operator's master rotation included), each with its end",
        responses: { "200": { description: "the secret", content: { "application/json": {} } }, ...COMMON_ERRORS },
      },
    },
    "/v1/webhook-secret/rotate": {
      post: {
        summary: "Rotate the tenant's webhook signing secret; both sign every delivery for overlap_seconds",
        security: [{ apiKey: ["admin"] }],
        requestBody: {
          required: false,
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { overlap_seconds: { type: "integer", minimum: 0, maximum: 604_800, default: 86_400 } },
              },
            },
          },
        },
        responses: {
          "200": { description: "the new secret", content: { "application/json": {} } },
          "400": error("invalid overlap_seconds"),
          ...COMMON_ERRORS,
        },
      },
    },
    "/v1/generations/{id}": {
      get: {
        summary: "Status, progress, text so far (Prefer: wait=N holds the answer until the job ends, up to N s)",
        parameters: [ID, { name: "Prefer", in: "header", schema: { type: "string", examples: ["wait=30"] } }],
        responses: { "200": { description: "the job", content: json("Generation") }, ...COMMON_ERRORS },
      },
    },
    "/v1/generations/{id}/blocks": {
      get: {
        summary: "A page of committed blocks after an index",
        parameters: [
          ID,
          { name: "after", in: "query", schema: { type: "integer", minimum: -1 } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        ],
        responses: { "200": { description: "a page", content: json("BlockPage") }, ...COMMON_ERRORS },
      },
    },
    "/v1/generations/{id}/stream": {
      get: {
        summary: "SSE: catch-up after Last-Event-ID or ?after=, then live blocks, then a `done` event",
        parameters: [
          ID,
          { name: "after", in: "query", schema: { type: "integer", minimum: -1 } },
          { name: "Last-Event-ID", in: "header", schema: { type: "string" } },
        ],
        responses: {
          "200": { description: "event stream", content: { "text/event-stream": { schema: { type: "string" } } } },
          ...COMMON_ERRORS,
        },
      },
    },
    "/v1/generations/{id}/cancel": {
      post: {
        summary: "Cancel (idempotent)",
        parameters: [ID],
        responses: {
          "200": { description: "the job is terminal", content: json("Generation") },
          "202": { description: "cancel requested; the worker stops at its next call", content: json("Generation") },
          ...COMMON_ERRORS,
        },
      },
    },
    "/v1/generations/{id}/deliveries": {
      get: {
        summary: "Webhook delivery log",
        parameters: [ID],
        responses: { "200": { description: "deliveries", content: json("DeliveryPage") }, ...COMMON_ERRORS },
      },
    },
    "/internal/v1/jobs/{id}/lease": workerCall("Take a lease (new epoch)", "LeaseRequest", "LeaseReply"),
    "/internal/v1/jobs/{id}/blocks": workerCall("Append a block", "AppendBlockRequest", "AppendBlockReply"),
    "/internal/v1/jobs/{id}/heartbeat": workerCall("Heartbeat", "HeartbeatRequest", "HeartbeatReply"),
    "/internal/v1/jobs/{id}/finish": workerCall("Finish the job", "FinishRequest", "JobStatusReply"),
    "/internal/v1/jobs/{id}/fail": workerCall("Fail the job", "FailRequest", "JobStatusReply"),
    "/internal/v1/jobs/{id}/release": workerCall("Give the lease back (drain)", "ReleaseRequest", "JobStatusReply"),
    "/healthz": {
      get: { summary: "Liveness and configuration check", security: [], responses: { "200": { description: "ok" } } },
    },
    "/openapi.json": {
      get: { summary: "This document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } },
    },
  };
}
