import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call } from "./helpers/api.ts";
import { TEST_RATE_LIMIT_PER_MINUTE } from "./test-keys.ts";

const BATCH = 50;

describe("per-key rate limit", () => {
  it("answers 429 with Retry-After once a key spends its budget, and only for that key", async () => {
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
    expect((await call("GET", "/v1/generations/gen_missing", { key: "tenantB" })).status).toBe(404);
  });
});
