import type { EdgeVars } from "./config/vars.ts";
import type { DevStreamsRpc } from "./dev/dev-streams-rpc.ts";
import type { JobObjectRpc } from "./job/job-rpc.ts";
import type { KeyDirectoryRpc } from "./keys/key-directory-rpc.ts";
import type { QueueLedgerRpc } from "./queue/queue-ledger-rpc.ts";
import type { TenantIndexRpc } from "./tenant/tenant-index-rpc.ts";

/**
 * Bindings of the edge Worker: its Durable Object namespaces and rate limits, plus the string settings
 * (config/vars.ts), which only config/ reads: config takes EdgeVars, never Env, so the objects' types do not
 * ripple through the configuration. The namespaces are typed by each object's RPC interface (a leaf of
 * types), not by its class, so that the classes, which take Env, are not imported back by it;
 * bindings-conformance.ts checks that each class still implements its interface.
 */
export interface Env extends EdgeVars {
  JOBS: DurableObjectNamespace<JobObjectRpc>;
  TENANTS: DurableObjectNamespace<TenantIndexRpc>;
  /** The key directory: one object, named "keys", holding every run-time API key by hash (keys/). */
  KEYS: DurableObjectNamespace<KeyDirectoryRpc>;
  /** One queue ledger per (model, priority), named `<model>:<priority>`: tickets for queue_position (queue/queue-ledger.ts). */
  QUEUE_LEDGER: DurableObjectNamespace<QueueLedgerRpc>;
  /** Development only: the generic Durable Streams mount (absent in production). */
  DEV_STREAMS?: DurableObjectNamespace<DevStreamsRpc>;
  /** Workers rate limit binding; absent in some local setups (see middleware/rate-limit.ts). */
  RATE_LIMITER?: RateLimit;
  /** Failed authentications per client address (middleware/auth-failures.ts). */
  AUTH_FAILURE_LIMITER?: RateLimit;
  /** Workers Analytics Engine dataset of the operator counts (observability/metrics.ts); absent: memory only. */
  METRICS?: AnalyticsEngineDataset;
}
