import { describe, expect, it } from "vitest";
import { readConfig } from "../config/config.ts";
import type { Env } from "../env.ts";
import { tenantWebhookSecret } from "./signing.ts";
import { signingSecrets } from "./tenant-secrets.ts";

const NOW_MS = Date.parse("2026-12-07T12:00:00Z");
const HOUR_MS = 3_600_000;
const current = "current-master-secret-0123";
const old = "previous-master-secret-0123";

describe("signingSecrets: a tenant's rotation and an operator's master rotation overlap independently", () => {
  it("signs with the current generation under the current master when nothing rotates", async () => {
    const config = { webhookSigningSecret: current, webhookSigningPrevious: null };
    const secrets = await signingSecrets(config, "tenant_a", { generation: 2, previous: null }, NOW_MS);
    expect(secrets).toEqual([
      { secret: await tenantWebhookSecret(current, "tenant_a", 2), generation: 2, expiresAtMs: null },
    ]);
  });

  it("adds every live generation under the previous master until its overlap ends", async () => {
    const config = {
      webhookSigningSecret: current,
      webhookSigningPrevious: { secret: old, untilMs: NOW_MS + HOUR_MS },
    };
    const state = { generation: 1, previous: { generation: 0, expiresAtMs: NOW_MS + 2 * HOUR_MS } };
    const secrets = await signingSecrets(config, "tenant_a", state, NOW_MS);
    expect(secrets).toEqual([
      { secret: await tenantWebhookSecret(current, "tenant_a", 1), generation: 1, expiresAtMs: null },
      { secret: await tenantWebhookSecret(current, "tenant_a", 0), generation: 0, expiresAtMs: NOW_MS + 2 * HOUR_MS },
      { secret: await tenantWebhookSecret(old, "tenant_a", 1), generation: 1, expiresAtMs: NOW_MS + HOUR_MS },
      // The earlier of the two ends: the old master's.
      { secret: await tenantWebhookSecret(old, "tenant_a", 0), generation: 0, expiresAtMs: NOW_MS + HOUR_MS },
    ]);
    const later = await signingSecrets(config, "tenant_a", state, NOW_MS + HOUR_MS);
    expect(later.map((entry) => entry.secret)).toEqual([
      await tenantWebhookSecret(current, "tenant_a", 1),
      await tenantWebhookSecret(current, "tenant_a", 0),
    ]);
    expect(await signingSecrets(config, "tenant_a", state, NOW_MS + 2 * HOUR_MS)).toHaveLength(1);
  });
});

describe("WEBHOOK_SIGNING_SECRET_PREVIOUS", () => {
  const base: Env = {
    ENVIRONMENT: "production",
    WEBHOOK_SIGNING_SECRET: current,
  } as Env;

  it("needs the end of its overlap, as an ISO instant, and names the setting when it is wrong", () => {
    const missing = readConfig({ ...base, WEBHOOK_SIGNING_SECRET_PREVIOUS: old } as Env);
    expect(missing.webhookSigningPrevious).toBeNull();
    expect(missing.problems).toContain("WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL must be set (when the overlap ends)");
    const garbled = readConfig({
      ...base,
      WEBHOOK_SIGNING_SECRET_PREVIOUS: old,
      WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL: "next tuesday",
    } as Env);
    expect(garbled.problems.some((problem) => problem.startsWith("WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL"))).toBe(true);
    const orphan = readConfig({ ...base, WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL: "2026-12-31T00:00:00Z" } as Env);
    expect(orphan.problems).toContain(
      "WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL is set without WEBHOOK_SIGNING_SECRET_PREVIOUS",
    );
  });

  it("parses both settings into the overlap the signer uses", () => {
    const config = readConfig({
      ...base,
      WEBHOOK_SIGNING_SECRET_PREVIOUS: old,
      WEBHOOK_SIGNING_SECRET_PREVIOUS_UNTIL: "2026-12-31T00:00:00Z",
    } as Env);
    expect(config.webhookSigningPrevious).toEqual({ secret: old, untilMs: Date.parse("2026-12-31T00:00:00Z") });
    expect(config.problems.filter((problem) => problem.includes("WEBHOOK"))).toEqual([]);
  });
});
