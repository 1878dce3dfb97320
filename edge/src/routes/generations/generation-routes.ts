import { BLOCK_PAGE_LIMIT_DEFAULT, BLOCK_PAGE_LIMIT_MAX } from "@bd3-serve/shared";
import { Hono } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { PUBLIC_BODY_MAX_BYTES } from "../../config/constants.ts";
import { ApiError, jobGone, jobNotFound } from "../../errors/api-error.ts";
import { intParam } from "../../http/query.ts";
import { JOB_MISSING_HEADER } from "../../job/job-rpc.ts";
import { jsonBody } from "../../middleware/json-only.ts";
import { createGeneration } from "./create-generation.ts";
import { getGeneration } from "./get-generation.ts";
import { stubOf } from "./job-stub.ts";
import { listGenerations } from "./list-generations.ts";
import { readText } from "./read-text.ts";
import { createStreamToken } from "./stream-token-route.ts";

/** Public API v1 under `/v1/generations` (API key, rate limit and config checks are mounted by the app). */
export function generationRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", ...jsonBody({ maxBytes: PUBLIC_BODY_MAX_BYTES }), createGeneration);

  app.get("/", listGenerations);

  app.get("/:id", getGeneration);

  app.post("/:id/stream-token", ...jsonBody({ maxBytes: PUBLIC_BODY_MAX_BYTES }), createStreamToken);

  app.get("/:id/blocks", async (c) => {
    const id = c.req.param("id");
    const after = intParam(c.req.query("after"), "after", { min: -1, max: Number.MAX_SAFE_INTEGER, fallback: -1 });
    const limit = intParam(c.req.query("limit"), "limit", {
      min: 1,
      max: BLOCK_PAGE_LIMIT_MAX,
      fallback: BLOCK_PAGE_LIMIT_DEFAULT,
    });
    const page = await stubOf(c, id).blocks(c.var.caller.tenantId, after, limit);
    if (page === null) throw jobNotFound(id);
    if (page === "gone") throw jobGone(id);
    return c.json(page);
  });

  app.get("/:id/stream", async (c) => {
    const id = c.req.param("id");
    const lastEventId = c.req.header("Last-Event-ID");
    const range = { min: -1, max: Number.MAX_SAFE_INTEGER, fallback: -1 };
    const after =
      lastEventId !== undefined && lastEventId !== ""
        ? intParam(lastEventId.trim(), "Last-Event-ID", range)
        : intParam(c.req.query("after"), "after", range);
    const query = new URLSearchParams({ tenant: c.var.caller.tenantId, after: String(after) });
    const response = await stubOf(c, id).fetch(`https://job.internal/stream?${query}`, { signal: c.req.raw.signal });
    const missing = response.headers.get(JOB_MISSING_HEADER);
    if (missing === "not_found") throw jobNotFound(id);
    if (missing === "gone") throw jobGone(id);
    return response;
  });

  // The document as a Durable Streams text stream (docs/streams.md): read-only for tenants.
  app.on(["GET", "HEAD"], "/:id/text", (c) => readText(c, c.req.param("id")));
  app.on(["PUT", "POST", "DELETE", "PATCH"], "/:id/text", () => {
    throw new ApiError(405, "method_not_allowed_error", "a generation's text is read-only", {
      headers: { Allow: "GET, HEAD" },
    });
  });

  app.post("/:id/cancel", ...jsonBody({ maxBytes: PUBLIC_BODY_MAX_BYTES }), async (c) => {
    const id = c.req.param("id");
    const result = await stubOf(c, id).cancel(c.var.caller.tenantId);
    if (result === null) throw jobNotFound(id);
    if (result === "gone") throw jobGone(id);
    return c.json(result.view, result.isPending ? 202 : 200);
  });

  app.get("/:id/deliveries", async (c) => {
    const id = c.req.param("id");
    const page = await stubOf(c, id).deliveries(c.var.caller.tenantId);
    if (page === null) throw jobNotFound(id);
    return c.json(page);
  });

  return app;
}
