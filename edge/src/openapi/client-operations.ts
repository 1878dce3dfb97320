import { COMMON_ERRORS, error, ID, json } from "./operations.ts";

/** The client-surface paths: the OpenAI-compatible routes and browser stream tokens (issue 16). */
export function clientOperations(): Record<string, unknown> {
  return {
    "/v1/models": {
      get: {
        summary: "The models this edge serves (OpenAI's model list, with each model's block size and context length)",
        responses: { "200": { description: "the list", content: json("ModelList") }, ...COMMON_ERRORS },
      },
    },
    "/v1/completions": {
      post: {
        summary:
          "OpenAI-compatible completion backed by a generation (its id is the completion's id); stream: true answers one SSE chunk per block and data: [DONE]",
        parameters: [{ name: "Idempotency-Key", in: "header", schema: { type: "string", maxLength: 255 } }],
        requestBody: { required: true, content: json("CompletionRequest") },
        responses: {
          "200": {
            description: "the completion (or, with stream: true, text/event-stream of CompletionChunk)",
            content: {
              ...json("Completion"),
              "text/event-stream": { schema: { $ref: "#/components/schemas/CompletionChunk" } },
            },
          },
          "400": error("invalid request, or a field that cannot map (n > 1, logprobs, echo, ...): param names it"),
          "422": error("still running after the wait bound (code completion_timeout): stream it or use the async API"),
          ...COMMON_ERRORS,
        },
      },
    },
    "/v1/generations/{id}/stream-token": {
      post: {
        summary:
          "A short-lived token opening this generation's stream and text routes as ?stream_token= (for EventSource, which cannot send Authorization)",
        parameters: [ID],
        responses: {
          "201": { description: "the token and the stream URLs", content: json("StreamToken") },
          ...COMMON_ERRORS,
        },
      },
    },
  };
}
