import type { EdgeVars } from "./config/vars.ts";
import type { DevStreamsObject } from "./dev/dev-streams-object.ts";
import type { JobObject } from "./job/job-object.ts";
import type { KeyDirectory } from "./keys/key-directory.ts";
import type { QueueLedger } from "./queue/queue-ledger.ts";
import type { TenantIndex } from "./tenant/tenant-index.ts";

/**
 * Bindings of the edge Worker: its Durable Object namespaces and rate limits, plus the string settings
 * (config/vars.ts), which only config/ reads: config takes EdgeVars, never Env, so the objects' types do not
 * ripple through the configuration.
 */
export interface Env extends EdgeVars {
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
  /** Workers Analytics Engine dataset of the operator counts (observability/metrics.ts); absent: memory only. */
  METRICS?: AnalyticsEngineDataset;
}
