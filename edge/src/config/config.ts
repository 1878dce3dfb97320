import { API_KEY_SCOPES, ApiKeyScopeSchema, IdSchema, PrioritySchema } from "@bd3-serve/shared";
import { z } from "zod";
import { parseServedModels, type ServedModel } from "../models/served-models.ts";
import { STREAM_LONG_POLL_SECONDS_DEFAULT } from "../stream/limits.ts";
import { parseQuotas, type QuotaConfig } from "../tenant/quota-config.ts";
import {
  CANCEL_GRACE_SECONDS_DEFAULT,
  QUEUE_DEADLINE_SECONDS_DEFAULT,
  RATE_LIMIT_FALLBACK_PER_MINUTE_DEFAULT,
  RETENTION_DAYS_DEFAULT,
  SSE_KEEPALIVE_SECONDS_DEFAULT,
  STALL_TIMEOUT_SECONDS_DEFAULT,
  STREAM_READERS_PER_JOB_MAX_DEFAULT,
  STREAM_READERS_PER_TENANT_MAX_DEFAULT,
} from "./constants.ts";
import { hostname, instant, list, parseOrigins, parsePublicBaseUrl, positiveNumber, secret } from "./parsers.ts";
import { parseSqs, type SqsConfig } from "./sqs-queues.ts";
import type { EdgeVars } from "./vars.ts";

export type { SqsConfig } from "./sqs-queues.ts";

/** The largest per-key ceiling an operator may set (a per-isolate counter holds it; see rate-limit.ts). */
const KEY_RATE_LIMIT_PER_MINUTE_MAX = 1_000_000;

/** One API key as an operator lists it in `API_KEYS`: never the key itself, only its SHA-256. */
export const ApiKeyRecordSchema = z.strictObject({
  id: IdSchema,
  tenant_id: IdSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: "sha256 must be 64 lowercase hex digits" }),
  /** Optional ceiling of this key alone, below the tenant's shared bucket (middleware/rate-limit.ts). */
  rate_limit_per_minute: z.int().min(1).max(KEY_RATE_LIMIT_PER_MINUTE_MAX).optional(),
  /**
   * What the key may do (middleware/require-scope.ts); absent: API_KEY_DEFAULT_SCOPES (generations:write and
   * generations:read). An operator's first admin key is an entry here with `"scopes": ["admin"]`.
   */
  scopes: z
    .array(ApiKeyScopeSchema)
    .min(1)
    .max(API_KEY_SCOPES.length)
    .refine((scopes) => new Set(scopes).size === scopes.length, { message: "scopes must not repeat a scope" })
    .optional(),
  /** The highest `priority` this key may ask for (0 low, 1 normal, 2 high); absent: any (routes/generations/priority.ts). */
  priority_max: PrioritySchema.optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

/** The edge's settings, parsed once per isolate from the bindings. */
export interface EdgeConfig {
  isDevelopment: boolean;
  apiKeys: ApiKeyRecord[];
  defaultModel: string;
  /** MODELS: the served models with their block sizes (models/served-models.ts); empty: any slug. */
  models: ServedModel[];
  publicBaseUrl: string | null;
  /** CORS_ALLOWED_ORIGINS: browser origins allowed to call the public API (middleware/cors.ts); none by default. */
  corsAllowedOrigins: string[];
  /** Development only: hosts exempt from the webhook private-address check. */
  webhookDevAllowedHosts: string[];
  capabilitySecret: string;
  /** WORKER_CAPABILITY_SECRET_PREVIOUS: still accepted (never minted with) while workers move to the new one. */
  capabilityPreviousSecret: string | null;
  /** WORKER_CAPABILITY_LEGACY_UNTIL: version-1 capabilities (no expiry) are accepted until then; null: never. */
  capabilityLegacyUntilMs: number | null;
  /** WORKER_API_HOSTNAME: when set, `/internal/*` answers only on this host and nothing else does there. */
  workerApiHostname: string | null;
  webhookSigningSecret: string;
  /**
   * WEBHOOK_SIGNING_SECRET_PREVIOUS until WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL: the master an operator is
   * rotating away from. Until then every delivery is also signed with the tenant secrets derived from it, so
   * receivers fetch their new secret (GET /v1/webhook-secret) at leisure; null when no rotation runs.
   */
  webhookSigningPrevious: { secret: string; untilMs: number } | null;
  sqs: SqsConfig | null;
  stallTimeoutMs: number;
  queueDeadlineMs: number;
  cancelGraceMs: number;
  retentionMs: number;
  sseKeepaliveMs: number;
  /** Stream reads: a long-poll answers 204 after this long with nothing new; SSE keep-alive interval. */
  streamLongPollMs: number;
  rateLimitFallbackPerMinute: number;
  /** Live stream readers allowed at once per job and per tenant (job/live-readers.ts). */
  streamReadersPerJobMax: number;
  streamReadersPerTenantMax: number;
  /** QUOTAS: per-tenant quotas (tenant/quota-config.ts). */
  quotas: QuotaConfig;
  /** Problems that make the edge refuse requests (names only, never secret values). */
  problems: string[];
}

const cache = new WeakMap<object, EdgeConfig>();

function parseApiKeys(raw: string | undefined, problems: string[]): ApiKeyRecord[] {
  if (raw === undefined || raw.trim() === "") return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    problems.push("API_KEYS is not valid JSON");
    return [];
  }
  const parsed = z.array(ApiKeyRecordSchema).safeParse(json);
  if (!parsed.success) {
    problems.push(`API_KEYS is invalid: ${parsed.error.issues[0]?.message ?? "bad shape"}`);
    return [];
  }
  return parsed.data;
}

/** The previous webhook master and the end of its overlap: both settings or neither. */
function parseWebhookSigningPrevious(env: EdgeVars, isDevelopment: boolean, problems: string[]) {
  const { WEBHOOK_SIGNING_SECRET_PREVIOUS: raw, WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL: rawUntil } = env;
  if (!raw) {
    if (rawUntil) problems.push("WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL is set without WEBHOOK_SIGNING_SECRET_PREVIOUS");
    return null;
  }
  const previous = secret(raw, "WEBHOOK_SIGNING_SECRET_PREVIOUS", isDevelopment, problems);
  const untilMs = instant(rawUntil, "WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL", problems);
  if (untilMs === null) {
    if (!rawUntil) problems.push("WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL must be set (when the overlap ends)");
    return null;
  }
  return { secret: previous, untilMs };
}

/** Parses (and caches per bindings object) the edge configuration. Never throws: problems are collected. */
export function readConfig(env: EdgeVars): EdgeConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const problems: string[] = [];
  const isDevelopment = (env.ENVIRONMENT ?? "production") === "development";
  const defaultModel = env.DEFAULT_MODEL || "kjv-bd3lm-b16";
  const models = parseServedModels(env.MODELS, problems);
  const sqs = parseSqs(env, models, defaultModel, problems);
  const config: EdgeConfig = {
    isDevelopment,
    apiKeys: parseApiKeys(env.API_KEYS, problems),
    defaultModel,
    models,
    publicBaseUrl: parsePublicBaseUrl(env.PUBLIC_BASE_URL, isDevelopment, problems),
    corsAllowedOrigins: parseOrigins(env.CORS_ALLOWED_ORIGINS, isDevelopment, "CORS_ALLOWED_ORIGINS", problems),
    webhookDevAllowedHosts: isDevelopment ? list(env.WEBHOOK_DEV_ALLOWED_HOSTS).map((h) => h.toLowerCase()) : [],
    capabilitySecret: secret(env.WORKER_CAPABILITY_SECRET, "WORKER_CAPABILITY_SECRET", isDevelopment, problems),
    capabilityPreviousSecret: env.WORKER_CAPABILITY_SECRET_PREVIOUS
      ? secret(env.WORKER_CAPABILITY_SECRET_PREVIOUS, "WORKER_CAPABILITY_SECRET_PREVIOUS", isDevelopment, problems)
      : null,
    capabilityLegacyUntilMs: instant(env.WORKER_CAPABILITY_LEGACY_UNTIL, "WORKER_CAPABILITY_LEGACY_UNTIL", problems),
    workerApiHostname: hostname(env.WORKER_API_HOSTNAME, "WORKER_API_HOSTNAME", problems),
    webhookSigningSecret: secret(env.WEBHOOK_SIGNING_SECRET, "WEBHOOK_SIGNING_SECRET", isDevelopment, problems),
    webhookSigningPrevious: parseWebhookSigningPrevious(env, isDevelopment, problems),
    sqs,
    stallTimeoutMs:
      positiveNumber(env.STALL_TIMEOUT_SECONDS, STALL_TIMEOUT_SECONDS_DEFAULT, "STALL_TIMEOUT_SECONDS", problems) *
      1_000,
    queueDeadlineMs:
      positiveNumber(env.QUEUE_DEADLINE_SECONDS, QUEUE_DEADLINE_SECONDS_DEFAULT, "QUEUE_DEADLINE_SECONDS", problems) *
      1_000,
    cancelGraceMs:
      positiveNumber(env.CANCEL_GRACE_SECONDS, CANCEL_GRACE_SECONDS_DEFAULT, "CANCEL_GRACE_SECONDS", problems) * 1_000,
    retentionMs: positiveNumber(env.RETENTION_DAYS, RETENTION_DAYS_DEFAULT, "RETENTION_DAYS", problems) * 86_400_000,
    sseKeepaliveMs:
      positiveNumber(env.SSE_KEEPALIVE_SECONDS, SSE_KEEPALIVE_SECONDS_DEFAULT, "SSE_KEEPALIVE_SECONDS", problems) *
      1_000,
    streamLongPollMs:
      positiveNumber(
        env.STREAM_LONG_POLL_SECONDS,
        STREAM_LONG_POLL_SECONDS_DEFAULT,
        "STREAM_LONG_POLL_SECONDS",
        problems,
      ) * 1_000,
    rateLimitFallbackPerMinute: positiveNumber(
      env.RATE_LIMIT_FALLBACK_PER_MINUTE,
      RATE_LIMIT_FALLBACK_PER_MINUTE_DEFAULT,
      "RATE_LIMIT_FALLBACK_PER_MINUTE",
      problems,
    ),
    streamReadersPerJobMax: positiveNumber(
      env.STREAM_READERS_PER_JOB_MAX,
      STREAM_READERS_PER_JOB_MAX_DEFAULT,
      "STREAM_READERS_PER_JOB_MAX",
      problems,
    ),
    streamReadersPerTenantMax: positiveNumber(
      env.STREAM_READERS_PER_TENANT_MAX,
      STREAM_READERS_PER_TENANT_MAX_DEFAULT,
      "STREAM_READERS_PER_TENANT_MAX",
      problems,
    ),
    quotas: parseQuotas(env.QUOTAS, problems),
    problems,
  };
  if (config.models.length > 0 && !config.models.some((model) => model.name === config.defaultModel)) {
    problems.push(`DEFAULT_MODEL '${config.defaultModel.slice(0, 80)}' is not listed in MODELS`);
  }
  cache.set(env, config);
  return config;
}
