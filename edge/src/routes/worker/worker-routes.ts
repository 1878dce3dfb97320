import {
  AppendBlockRequestSchema,
  FailRequestSchema,
  FinishRequestSchema,
  HeartbeatRequestSchema,
  LeaseRequestSchema,
  ReleaseRequestSchema,
} from "@bd3-serve/shared";
import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import type { z } from "zod";
import type { AppEnv } from "../../app-env.ts";
import { verifyCapability } from "../../auth/capability.ts";
import { capabilityKeys } from "../../auth/capability-secrets.ts";
import { WORKER_BLOCK_STREAM_BODY_MAX_BYTES, WORKER_BODY_MAX_BYTES } from "../../config/constants.ts";
import { ApiError } from "../../errors/api-error.ts";
import { parseJsonBody } from "../../http/parse-body.ts";
import { jobStub, objectIdOfJob } from "../../job/job-id.ts";
import type { WorkerCallResult } from "../../job/job-rpc.ts";
import { jsonBody } from "../../middleware/json-only.ts";
import { appendToBlockStream } from "./block-stream-route.ts";

type JobStub = ReturnType<typeof jobStub>;

const BEARER = /^Bearer ([A-Za-z0-9._-]{16,256})$/;

/**
 * The per-job capability of docs/worker-api.md: minted for exactly this `:id`, not expired, under the current
 * or the previous secret (auth/capability.ts). Every refusal is the same 401, so a caller learns nothing about
 * the job; the log says why (never the capability itself).
 */
const capabilityAuth = createMiddleware<AppEnv>(async function capabilityAuth(c, next) {
  const match = BEARER.exec(c.req.header("Authorization") ?? "");
  const id = c.req.param("id") ?? "";
  const keys = capabilityKeys(c.var.config);
  const verdict = match?.[1] ? await verifyCapability(keys, id, match[1], Date.now()) : null;
  if (verdict?.ok !== true) {
    const reason = verdict === null ? "missing" : verdict.reason;
    console.warn(
      JSON.stringify({ event: "capability_refused", request_id: c.var.requestId, job_id: id.slice(0, 128), reason }),
    );
    throw new ApiError(401, "authentication_error", "missing or invalid job capability", { param: "Authorization" });
  }
  await next();
});

function reply<T>(c: Context<AppEnv>, result: WorkerCallResult<T>): Response {
  if (result.ok) return c.json(result.reply as object);
  const type =
    result.status === 404 ? "not_found_error" : result.status === 409 ? "conflict_error" : "invalid_request_error";
  const headers: Record<string, string> =
    result.retryAfterSeconds !== undefined ? { "Retry-After": String(result.retryAfterSeconds) } : {};
  throw new ApiError(result.status, type, result.message, { code: result.code, param: result.param, headers });
}

/** A worker call: parse the body with its shared schema, run it on the job object, map the result. */
function call<S extends z.ZodType>(
  schema: S,
  run: (stub: JobStub, body: z.output<S>) => Promise<WorkerCallResult<unknown>>,
) {
  return async (c: Context<AppEnv>) => {
    const id = c.req.param("id") ?? "";
    const objectId = objectIdOfJob(c.env, id);
    if (objectId === null) throw new ApiError(404, "not_found_error", "no such job", { param: "id" });
    const body = await parseJsonBody(c, schema);
    return reply(c, await run(jobStub(c.env, objectId), body));
  };
}

/** Worker API under `/internal/v1/jobs/:id/*` (docs/worker-api.md). */
export function workerRoutes() {
  const app = new Hono<AppEnv>();
  app.use("/:id/*", capabilityAuth);
  app.post("/:id/block-stream", ...jsonBody({ maxBytes: WORKER_BLOCK_STREAM_BODY_MAX_BYTES }), appendToBlockStream);
  app.use("/:id/*", ...jsonBody({ maxBytes: WORKER_BODY_MAX_BYTES }));
  app.post(
    "/:id/lease",
    call(LeaseRequestSchema, (stub, body) => stub.lease(body)),
  );
  app.post(
    "/:id/blocks",
    call(AppendBlockRequestSchema, (stub, body) => stub.appendBlock(body)),
  );
  app.post(
    "/:id/heartbeat",
    call(HeartbeatRequestSchema, (stub, body) => stub.heartbeat(body)),
  );
  app.post(
    "/:id/finish",
    call(FinishRequestSchema, (stub, body) => stub.finish(body)),
  );
  app.post(
    "/:id/fail",
    call(FailRequestSchema, (stub, body) => stub.fail(body)),
  );
  app.post(
    "/:id/release",
    call(ReleaseRequestSchema, (stub, body) => stub.release(body)),
  );
  return app;
}
