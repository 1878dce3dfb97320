/**
 * The edge's string settings as bindings carry them (wrangler.toml `[vars]`, secrets): every one is parsed and
 * defaulted by readConfig (config.ts), never read raw by handlers. Kept apart from the Durable Object bindings
 * (env.ts) so the configuration depends on nothing but these strings.
 */
export interface EdgeVars {
  ENVIRONMENT?: string;
  API_KEYS?: string;
  DEFAULT_MODEL?: string;
  MODELS?: string;
  PUBLIC_BASE_URL?: string;
  CORS_ALLOWED_ORIGINS?: string;
  WEBHOOK_DEV_ALLOWED_HOSTS?: string;
  WORKER_CAPABILITY_SECRET?: string;
  WORKER_CAPABILITY_SECRET_PREVIOUS?: string;
  WORKER_CAPABILITY_LEGACY_UNTIL?: string;
  WORKER_API_HOSTNAME?: string;
  WEBHOOK_SIGNING_SECRET?: string;
  WEBHOOK_SIGNING_SECRET_PREVIOUS?: string;
  WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL?: string;
  SQS_ENDPOINT?: string;
  SQS_QUEUE_URL?: string;
  /** JSON `{ "<model>": { "0": url, "1": url, "2": url } }`: the queue of each model and priority (config/sqs-queues.ts). */
  SQS_QUEUES?: string;
  AWS_REGION?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  STALL_TIMEOUT_SECONDS?: string;
  QUEUE_DEADLINE_SECONDS?: string;
  CANCEL_GRACE_SECONDS?: string;
  RETENTION_DAYS?: string;
  SSE_KEEPALIVE_SECONDS?: string;
  STREAM_LONG_POLL_SECONDS?: string;
  RATE_LIMIT_FALLBACK_PER_MINUTE?: string;
  STREAM_READERS_PER_JOB_MAX?: string;
  STREAM_READERS_PER_TENANT_MAX?: string;
  QUOTAS?: string;
}
