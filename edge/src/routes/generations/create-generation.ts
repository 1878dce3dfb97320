import {
  type CreateGenerationRequest,
  CreateGenerationRequestSchema,
  IdempotencyKeySchema,
  isTerminalJobStatus,
  SEED_MAX,
} from "@bd3-serve/shared";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { canonicalJson, sha256Hex } from "../../auth/crypto.ts";
import { PREFER_WAIT_MAX_SECONDS } from "../../config/constants.ts";
import { ApiError, invalidRequest } from "../../errors/api-error.ts";
import { cancelAfterSeconds } from "../../http/cancel-after.ts";
import { parseJsonBody, parseWith } from "../../http/parse-body.ts";
import { preferWaitSeconds } from "../../http/prefer-wait.ts";
import { jobIdOf, jobStub, objectIdForCreate } from "../../job/job-id.ts";
import { checkModelRequest } from "../../models/served-models.ts";
import { checkWebhookUrl } from "../../webhooks/url-guard.ts";
import { publicBaseUrl } from "./base-url.ts";
import { resolvePriority } from "./priority.ts";
import { admitToQuota } from "./quota-admission.ts";

const DAY_MS = 86_400_000;

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! % (SEED_MAX + 1);
}

/**
 * `POST /v1/generations`. With an `Idempotency-Key` the job object is named by tenant + key: the same key
 * and body give the same job (`Idempotent-Replayed: true`), the same key with another body a 422
 * `idempotency_error`. Bodies are compared after defaults are applied, so `{}` and the defaults agree; a
 * seed the client did not send is resolved once, at the first create. `Prefer: wait=N` holds the answer
 * up to N seconds (at most PREFER_WAIT_MAX_SECONDS) for the job to finish: 200 when it did, else 202.
 */
export async function createGeneration(c: Context<AppEnv>): Promise<Response> {
  const body = await parseJsonBody(c, CreateGenerationRequestSchema);
  const keyHeader = c.req.header("Idempotency-Key");
  const idempotencyKey =
    keyHeader === undefined ? undefined : parseWith(IdempotencyKeySchema, keyHeader, "Idempotency-Key");
  const waitSeconds = preferWaitSeconds(c.req.header("Prefer"), PREFER_WAIT_MAX_SECONDS);
  const { result, view } = await submitGeneration(c, body, idempotencyKey, waitSeconds);
  const headers: Record<string, string> = { Location: view.urls.self };
  if (result.kind === "replayed") headers["Idempotent-Replayed"] = "true";
  if (waitSeconds > 0) headers["Preference-Applied"] = `wait=${waitSeconds}`;
  return c.json(view, isTerminalJobStatus(view.status) ? 200 : 202, headers);
}

/**
 * Creates (or replays) a job from a parsed create body: the one path every way in shares (this route and
 * `POST /v1/completions`), so a job is the same job whichever API made it. Waits up to `waitSeconds` for it
 * to end.
 */
export async function submitGeneration(
  c: Context<AppEnv>,
  request: CreateGenerationRequest,
  idempotencyKey: string | undefined,
  waitSeconds: number,
) {
  const { config, caller } = c.var;
  let body = request;
  const cancelAfter = cancelAfterSeconds(c.req.header("Cancel-After"));
  if (cancelAfter !== undefined) {
    if (body.timeout_seconds !== undefined && body.timeout_seconds !== cancelAfter) {
      throw invalidRequest("give timeout_seconds or the Cancel-After header, not both", "Cancel-After");
    }
    // Folded into the body before it is hashed, so a replay with the same header is the same request.
    body = { ...body, timeout_seconds: cancelAfter };
  }
  const model = body.model ?? config.defaultModel;
  checkModelRequest(config.models, model, body.steps_per_block);
  const priority = resolvePriority(caller, body.priority);
  if (body.webhook) {
    const verdict = checkWebhookUrl(body.webhook.url, {
      isDevelopment: config.isDevelopment,
      devAllowedHosts: config.webhookDevAllowedHosts,
    });
    if (!verdict.ok) throw invalidRequest(verdict.reason, "webhook.url");
  }
  const {
    prompt,
    webhook,
    metadata,
    model: _model,
    seed,
    retention_days: retentionDays,
    ttl_seconds: ttlSeconds,
    timeout_seconds: timeoutSeconds,
    priority: _priority,
    ...sampling
  } = body;
  const objectId = objectIdForCreate(c.env, caller.tenantId, idempotencyKey);
  const admission = await admitToQuota(c, jobIdOf(objectId));
  const stub = jobStub(c.env, objectId);
  const result = await stub.create({
    tenantId: caller.tenantId,
    requestHash: await sha256Hex(canonicalJson(body)),
    model,
    prompt,
    params: { ...sampling, seed: seed ?? randomSeed() },
    metadata,
    webhook: webhook ?? null,
    baseUrl: publicBaseUrl(c),
    retentionMs: retentionDays === undefined ? null : retentionDays * DAY_MS,
    requestId: c.var.requestId ?? null,
    ttlMs: ttlSeconds === undefined ? null : ttlSeconds * 1_000,
    timeoutMs: timeoutSeconds === undefined ? null : timeoutSeconds * 1_000,
    priority,
    isIndexed: admission.isNew,
  });
  if (result.kind === "mismatch") {
    throw new ApiError(422, "idempotency_error", "this Idempotency-Key was already used with a different request", {
      param: "Idempotency-Key",
    });
  }
  let view = result.view;
  if (waitSeconds > 0 && !isTerminalJobStatus(view.status)) {
    view = (await stub.waitForTerminal(caller.tenantId, waitSeconds * 1_000)) ?? view;
  }
  return { result, view, stub };
}
