import { env } from "cloudflare:workers";
import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { tenantWebhookSecret } from "../src/webhooks/signing.ts";
import { call, json } from "./helpers/api.ts";
import { TEST_KEYS } from "./test-keys.ts";

/** A tenant rotates its webhook signing secret alone, with an overlap (issue 21, item 4). */
describe("/v1/webhook-secret", () => {
  const master = env.WEBHOOK_SIGNING_SECRET!;

  it("shows generation 0 (the secret from before rotation), rotates with an overlap, and leaves other tenants alone", async () => {
    const before = await json<{ secret: string; generation: number; previous: unknown }>(
      await call("GET", "/v1/webhook-secret", { key: "readersOther" }),
    );
    expect(before).toMatchObject({ generation: 0, previous: null });
    expect(before.secret).toBe(await tenantWebhookSecret(master, TEST_KEYS.readersOther.tenantId));
    const rotated = await json<{
      secret: string;
      generation: number;
      previous: { secret: string; expires_at: string };
      signing_secrets: { secret: string; generation: number; expires_at: string | null }[];
    }>(await call("POST", "/v1/webhook-secret/rotate", { key: "readersOther", body: { overlap_seconds: 3_600 } }));
    expect(rotated.generation).toBe(1);
    expect(rotated.signing_secrets).toEqual([
      { secret: rotated.secret, generation: 1, expires_at: null },
      { secret: before.secret, generation: 0, expires_at: rotated.previous.expires_at },
    ]);
    expect(rotated.secret).not.toBe(before.secret);
    expect(rotated.previous.secret).toBe(before.secret);
    const overlapMs = Date.parse(rotated.previous.expires_at) - Date.now();
    expect(overlapMs).toBeGreaterThan(3_500_000);
    expect(overlapMs).toBeLessThanOrEqual(3_600_000);
    const other = await json<{ generation: number }>(await call("GET", "/v1/webhook-secret", { key: "tenantB" }));
    expect(other.generation).toBe(0);
    const retired = await json<{ generation: number; previous: unknown }>(
      await call("POST", "/v1/webhook-secret/rotate", { key: "readersOther", body: { overlap_seconds: 0 } }),
    );
    expect(retired).toMatchObject({ generation: 2, previous: null });
  });

  it("refuses a bad overlap with 400 naming it, and a caller without a key with 401", async () => {
    const bad = await call("POST", "/v1/webhook-secret/rotate", { key: "tenantB", body: { overlap_seconds: -1 } });
    expect(bad.status).toBe(400);
    expect(ErrorBodySchema.parse(await bad.json()).error.param).toBe("overlap_seconds");
    expect((await call("GET", "/v1/webhook-secret", { key: null })).status).toBe(401);
    expect(
      (await json<{ generation: number }>(await call("GET", "/v1/webhook-secret", { key: "tenantB" }))).generation,
    ).toBe(0);
  });
});
