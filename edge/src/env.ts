import type { DevStreamsObject } from "./dev/dev-streams-object.ts";
import type { JobObject } from "./job/job-object.ts";
import type { KeyDirectory } from "./keys/key-directory.ts";
import type { QueueLedger } from "./queue/queue-ledger.ts";
import type { TenantIndex } from "./tenant/tenant-index.ts";

/**
 * Bindings of the edge Worker. Strings come from wrangler.toml `[vars]` or secrets; every one is parsed and
 * defaulted in `config/config.ts`, never read raw by handlers.
 */
export interface Env {
  JOBS: DurableObjectNamespace<JobObject>;
  TENANTS: DurableObjectNamespace<TenantIndex>;
  /** The key directory: one object, named "keys", holding every run-time API key by hash (keys/). */
  KEYS: DurableObjectNamespace<KeyDirectory>;
  /** One queue ledger per (model, priority), named `<model>:<priority>`: tickets for queue_position (queue/queue-ledger.ts). */
  QUEUE_LEDGER: DurableObjectNamespace<QueueLedger>;
  /** Development only: the generic Durable Streams mount (absent in production). */
  DEV_STREAMS?: DurableObjectNamespace<DevStreamsObject>;
  /** Workers rate limit binding; absent in some local setups (see middleware/rate-limit.ts). */
  RATE_LIMITER?: RateLimit;
  /** Failed authentications per client address (middleware/auth-failures.ts). */
  AUTH_FAILURE_LIMITER?: RateLimit;
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
