import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import worker from "../src/worker.ts";
import { call } from "./helpers/api.ts";
import { TEST_KEYS, TEST_RATE_LIMIT_PER_MINUTE } from "./test-keys.ts";

const BATCH = 50;

describe("per-tenant rate limit", () => {
  it("answers 429 with Retry-After once a tenant spends its budget, for all its keys and only for them", async () => {
    let limited: Response | null = null;
    let sent = 0;
    // A fixed window may roll over mid-test, so allow up to two windows' worth before giving up.
    while (limited === null && sent < 2 * TEST_RATE_LIMIT_PER_MINUTE + BATCH) {
      const responses = await Promise.all(
        Array.from({ length: BATCH }, () => call("GET", "/v1/generations/gen_missing", { key: "rateLimited" })),
      );
      sent += BATCH;
      for (const response of responses) {
        if (response.status === 429) limited ??= response;
        else expect(response.status).toBe(404);
      }
    }
    expect(limited).not.toBeNull();
    expect(sent).toBeGreaterThan(TEST_RATE_LIMIT_PER_MINUTE);
    const retryAfter = Number(limited!.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(ErrorBodySchema.parse(await limited!.json()).error.type).toBe("rate_limit_error");
    // Another key of the same tenant draws on the same bucket; another tenant does not.
    expect((await call("GET", "/v1/generations/gen_missing", { key: "rateLimitedSecond" })).status).toBe(429);
    expect((await call("GET", "/v1/generations/gen_missing", { key: "tenantB" })).status).toBe(404);
  });
});

describe("failed authentication limit", () => {
  const lowLimit = {
    ...env,
    AUTH_FAILURE_LIMITER: (env as unknown as { AUTH_FAILURE_LIMITER_LOW: RateLimit }).AUTH_FAILURE_LIMITER_LOW,
  };
  const from = (address: string, key: string) =>
    worker.fetch(
      new Request("https://edge.test/v1/generations/gen_missing", {
        headers: { Authorization: `Bearer ${key}`, "CF-Connecting-IP": address },
      }),
      lowLimit,
      createExecutionContext(),
    );

  it("answers 429 to an address past its failure budget, before any key lookup, and only to it", async () => {
    const address = "203.0.113.7";
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await from(address, "bd3_wrong_key_000000000000000000000000")).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    const blocked = await from(address, TEST_KEYS.tenantA.key);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(ErrorBodySchema.parse(await blocked.json()).error.message).toContain("failed authentications");
    expect((await from("203.0.113.8", "bd3_wrong_key_000000000000000000000000")).status).toBe(401);
    expect((await from("203.0.113.8", TEST_KEYS.tenantA.key)).status).toBe(404);
  });
});
