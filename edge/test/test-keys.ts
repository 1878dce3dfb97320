/**
 * API keys of the test run. The plain keys live only here; vitest.config.ts hashes them into API_KEYS,
 * exactly as an operator would. Each concern gets its own tenant, so per-tenant rate limits do not interfere.
 * A key without `scopes` has the default ones (generations:write and generations:read).
 */
const ALL_SCOPES = ["generations:write", "generations:read", "admin"] as const;

export const TEST_KEYS = {
  tenantA: { key: "bd3_test_tenant_a_0000000000000000000000", id: "key_a", tenantId: "tenant_a" },
  tenantB: { key: "bd3_test_tenant_b_0000000000000000000000", id: "key_b", tenantId: "tenant_b", scopes: ALL_SCOPES },
  fuzz: { key: "bd3_test_fuzz_000000000000000000000000000", id: "key_fuzz", tenantId: "tenant_fuzz" },
  rateLimited: { key: "bd3_test_rate_00000000000000000000000000", id: "key_rate", tenantId: "tenant_rate" },
  /** A second key of the rate-limited tenant: it shares the tenant's bucket. */
  rateLimitedSecond: { key: "bd3_test_rate_2_000000000000000000000000", id: "key_rate_2", tenantId: "tenant_rate" },
  readers: { key: "bd3_test_readers_00000000000000000000000", id: "key_readers", tenantId: "tenant_readers" },
  readersOther: {
    key: "bd3_test_readers_2_000000000000000000000",
    id: "key_readers_2",
    tenantId: "tenant_readers_2",
    scopes: ALL_SCOPES,
  },
  webhooks: { key: "bd3_test_webhooks_0000000000000000000000", id: "key_webhooks", tenantId: "tenant_webhooks" },
  /** Quotas (test/usage.test.ts, QUOTAS in vitest.config.ts): usage counts, a queued-jobs and a token quota. */
  usage: { key: "bd3_test_usage_0000000000000000000000000", id: "key_usage", tenantId: "tenant_usage" },
  usageSecond: { key: "bd3_test_usage_2_00000000000000000000000", id: "key_usage_2", tenantId: "tenant_usage" },
  queuedQuota: { key: "bd3_test_queued_quota_000000000000000000", id: "key_queued", tenantId: "tenant_queued" },
  tokenQuota: { key: "bd3_test_token_quota_0000000000000000000", id: "key_tokens", tenantId: "tenant_tokens" },
  /** `max_running_jobs: 1` (test/running-quota.test.ts). */
  runningQuota: { key: "bd3_test_running_quota_00000000000000000", id: "key_running", tenantId: "tenant_running" },
  /** Held to normal priority (`priority_max: 1` in API_KEYS): test/scheduling.test.ts. */
  priorityCapped: {
    key: "bd3_test_priority_capped_000000000000000",
    id: "key_priority_capped",
    tenantId: "tenant_priority",
    priorityMax: 1,
  },
  /** Only `admin`: manages keys (test/keys.test.ts) and may not read or create generations. */
  admin: {
    key: "bd3_test_admin_0000000000000000000000000",
    id: "key_admin",
    tenantId: "tenant_admin",
    scopes: ["admin"],
  },
} as const;

/** Requests per minute per key in the test run (the RATE_LIMITER binding's limit). */
export const TEST_RATE_LIMIT_PER_MINUTE = 1_000;
