/**
 * API keys of the test run. The plain keys live only here; vitest.config.ts hashes them into API_KEYS,
 * exactly as an operator would. Each concern gets its own tenant, so per-tenant rate limits do not interfere.
 */
export const TEST_KEYS = {
  tenantA: { key: "bd3_test_tenant_a_0000000000000000000000", id: "key_a", tenantId: "tenant_a" },
  tenantB: { key: "bd3_test_tenant_b_0000000000000000000000", id: "key_b", tenantId: "tenant_b" },
  fuzz: { key: "bd3_test_fuzz_000000000000000000000000000", id: "key_fuzz", tenantId: "tenant_fuzz" },
  rateLimited: { key: "bd3_test_rate_00000000000000000000000000", id: "key_rate", tenantId: "tenant_rate" },
  /** A second key of the rate-limited tenant: it shares the tenant's bucket. */
  rateLimitedSecond: { key: "bd3_test_rate_2_000000000000000000000000", id: "key_rate_2", tenantId: "tenant_rate" },
  readers: { key: "bd3_test_readers_00000000000000000000000", id: "key_readers", tenantId: "tenant_readers" },
  readersOther: { key: "bd3_test_readers_2_000000000000000000000", id: "key_readers_2", tenantId: "tenant_readers_2" },
  webhooks: { key: "bd3_test_webhooks_0000000000000000000000", id: "key_webhooks", tenantId: "tenant_webhooks" },
} as const;

/** Requests per minute per key in the test run (the RATE_LIMITER binding's limit). */
export const TEST_RATE_LIMIT_PER_MINUTE = 1_000;
