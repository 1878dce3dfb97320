import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { signWebhook, tenantWebhookSecret } from "./signing.ts";

describe("webhook signing", () => {
  it("derives a distinct Standard Webhooks secret per tenant", async () => {
    const a = await tenantWebhookSecret("master-secret-of-the-edge", "tenant_a");
    const b = await tenantWebhookSecret("master-secret-of-the-edge", "tenant_b");
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(await tenantWebhookSecret("master-secret-of-the-edge", "tenant_a")).toBe(a);
  });

  it("matches what `npm run -w edge webhook-secret` prints for an operator", async () => {
    const secret = await tenantWebhookSecret("dev-webhook-signing-secret-not-for-production", "tenant_dev");
    expect(secret).toBe("whsec_x2uHP+rMhlSF0VuM/eHbcHz1xiKfZdAEwRq0EDHZKjM=");
  });

  it("produces headers a Standard Webhooks receiver verifies", async () => {
    const secret = await tenantWebhookSecret("master-secret-of-the-edge", "tenant_a");
    const body = JSON.stringify({ type: "generation.completed", timestamp: new Date().toISOString(), data: {} });
    const headers = signWebhook([secret], "msg_1", body, new Date());
    expect(new Webhook(secret).verify(body, { ...headers })).toBeTruthy();
    const other = await tenantWebhookSecret("master-secret-of-the-edge", "tenant_b");
    expect(() => new Webhook(other).verify(body, { ...headers })).toThrow();
  });

  it("signs with every live generation during a rotation, so a receiver holding either verifies", async () => {
    const old = await tenantWebhookSecret("master-secret-of-the-edge", "tenant_a", 0);
    const next = await tenantWebhookSecret("master-secret-of-the-edge", "tenant_a", 1);
    expect(next).not.toBe(old);
    const body = "{}";
    const headers = signWebhook([next, old], "msg_2", body, new Date());
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(old).verify(body, { ...headers })).toBeTruthy();
    expect(new Webhook(next).verify(body, { ...headers })).toBeTruthy();
    const after = signWebhook([next], "msg_3", body, new Date());
    expect(() => new Webhook(old).verify(body, { ...after })).toThrow();
  });
});
