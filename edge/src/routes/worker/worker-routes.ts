import {
  AppendBlockRequestSchema,
  FailRequestSchema,
  FinishRequestSchema,
  HeartbeatRequestSchema,
  LeaseRequestSchema,
} from "@bd3-serve/shared";
import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import type { z } from "zod";
import type { AppEnv } from "../../app-env.ts";
import { isValidCapability } from "../../auth/capability.ts";
import { WORKER_BLOCK_STREAM_BODY_MAX_BYTES, WORKER_BODY_MAX_BYTES } from "../../config/constants.ts";
import { ApiError } from "../../errors/api-error.ts";
import { parseJsonBody } from "../../http/parse-body.ts";
import { jobStub, objectIdOfJob } from "../../job/job-id.ts";
import type { WorkerCallResult } from "../../job/worker-calls.ts";
import { jsonBody } from "../../middleware/json-only.ts";
import { appendToBlockStream } from "./block-stream-route.ts";

type JobStub = ReturnType<typeof jobStub>;

const BEARER = /^Bearer ([A-Za-z0-9_-]{16,256})$/;

/** The per-job capability of docs/worker-api.md: it must be the HMAC of exactly this `:id`. */
const capabilityAuth = createMiddleware<AppEnv>(async function capabilityAuth(c, next) {
  const match = BEARER.exec(c.req.header("Authorization") ?? "");
  const id = c.req.param("id") ?? "";
  if (!match?.[1] || !(await isValidCapability(c.var.config.capabilitySecret, id, match[1]))) {
    throw new ApiError(401, "authentication_error", "missing or invalid job capability", { param: "Authorization" });
  }
  await next();
});

function reply<T>(c: Context<AppEnv>, result: WorkerCallResult<T>): Response {
  if (result.ok) return c.json(result.reply as object);
  const type =
    result.status === 404 ? "not_found_error" : result.status === 409 ? "conflict_error" : "invalid_request_error";
  throw new ApiError(result.status, type, result.message, { code: result.code, param: result.param });
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
  return app;
}
