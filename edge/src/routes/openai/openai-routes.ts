import { CompletionRequestSchema, IdempotencyKeySchema, isTerminalJobStatus, type ModelList } from "@bd3-serve/shared";
import { Hono } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { PREFER_WAIT_MAX_SECONDS, PUBLIC_BODY_MAX_BYTES } from "../../config/constants.ts";
import { ApiError } from "../../errors/api-error.ts";
import { parseJsonBody, parseWith } from "../../http/parse-body.ts";
import { SSE_HEADERS } from "../../job/block-events.ts";
import { JOB_MISSING_HEADER } from "../../job/job-rpc.ts";
import { jsonBody } from "../../middleware/json-only.ts";
import { submitGeneration } from "../generations/create-generation.ts";
import { stubOf } from "../generations/job-stub.ts";
import { createBodyOf } from "./completion-request.ts";
import { completionStream } from "./completion-stream.ts";
import { completionOf } from "./completion-view.ts";

/** `created` of every model: the edge does not know when a package was built, so a fixed instant. */
const MODELS_CREATED_SECONDS = 1_767_225_600;

/**
 * The OpenAI-compatible routes: `GET /v1/models` (what this edge serves, from MODELS) and
 * `POST /v1/completions`, backed by a normal job (durable, resumable by id, visible in GET, cancellable).
 * A non-streaming completion waits up to PREFER_WAIT_MAX_SECONDS for its job; one that takes longer answers
 * 422 naming the job, which keeps running, so the caller streams it or follows it with the async API.
 */
export function openAiRoutes() {
  const app = new Hono<AppEnv>();

  app.get("/models", (c) => {
    const { models, defaultModel } = c.var.config;
    const served =
      models.length > 0 ? models : [{ name: defaultModel, blockSizeTokens: null, contextLengthTokens: null }];
    const list: ModelList = {
      object: "list",
      data: served.map((model) => ({
        id: model.name,
        object: "model",
        created: MODELS_CREATED_SECONDS,
        owned_by: "bd3-serve",
        block_size: model.blockSizeTokens,
        context_length: model.contextLengthTokens,
      })),
    };
    return c.json(list);
  });

  app.post("/completions", ...jsonBody({ maxBytes: PUBLIC_BODY_MAX_BYTES }), async (c) => {
    const request = await parseJsonBody(c, CompletionRequestSchema);
    const body = createBodyOf(request);
    const keyHeader = c.req.header("Idempotency-Key");
    const idempotencyKey =
      keyHeader === undefined ? undefined : parseWith(IdempotencyKeySchema, keyHeader, "Idempotency-Key");
    const isStreaming = request.stream === true;
    const { view } = await submitGeneration(c, body, idempotencyKey, isStreaming ? 0 : PREFER_WAIT_MAX_SECONDS);
    // x-should-retry: the openai client retries 5xx and some 4xx; a retry here would start another job.
    const headers = { "Bd3-Generation-Id": view.id, Location: view.urls.self, "x-should-retry": "false" };
    if (isStreaming) {
      const stub = stubOf(c, view.id);
      const tenant = c.var.caller.tenantId;
      const open = async (afterIndex: number, signal: AbortSignal) => {
        const query = new URLSearchParams({ tenant, after: String(afterIndex) });
        const response = await stub.fetch(`https://job.internal/stream?${query}`, { signal });
        if (response.headers.get(JOB_MISSING_HEADER) !== null) return new Response(null, { status: 404 });
        return response;
      };
      const includeUsage = request.stream_options?.include_usage === true;
      const stream = completionStream(view, includeUsage, open, c.req.raw.signal);
      return new Response(stream, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
    }
    if (!isTerminalJobStatus(view.status)) {
      throw new ApiError(
        422,
        "invalid_request_error",
        `generation ${view.id} is still running after ${PREFER_WAIT_MAX_SECONDS} s: use stream: true, a smaller ` +
          `max_tokens, or follow it with GET ${view.urls.self}`,
        { param: "max_tokens", code: "completion_timeout", headers },
      );
    }
    if (view.status === "failed" || view.status === "expired") {
      throw new ApiError(500, "api_error", `generation ${view.id} ended ${view.status}: ${view.error?.message ?? ""}`, {
        code: view.error?.code ?? view.status,
        headers,
      });
    }
    if (view.text === null) {
      throw new ApiError(
        422,
        "invalid_request_error",
        `the text of ${view.id} is too long to inline: read ${view.urls.text}`,
        {
          param: "max_tokens",
          code: "text_too_long",
          headers,
        },
      );
    }
    return c.json(completionOf(view, view.text), 200, headers);
  });

  return app;
}
