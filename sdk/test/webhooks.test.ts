import type { WebhookEvent } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { signWebhook, tenantWebhookSecret } from "../../edge/src/webhooks/signing.ts";
import { exampleJobView } from "../../shared/src/testing/examples.ts";
import { verifyWebhook, verifyWebhookSignature, WebhookVerificationError } from "../src/webhooks/verify.ts";

const MASTER = "test-master-signing-secret";
const AT = new Date("2026-11-28T10:00:00.000Z");
const event: WebhookEvent = {
  type: "generation.completed",
  timestamp: AT.toISOString(),
  data: { ...exampleJobView, status: "succeeded", finish_reason: "eos" },
};
const payload = JSON.stringify(event);

async function secrets() {
  // The edge's own derivation: generation 0 (before any rotation) and generation 1 (after one).
  return {
    old: await tenantWebhookSecret(MASTER, "tenant_a", 0),
    current: await tenantWebhookSecret(MASTER, "tenant_a", 1),
  };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(WebhookVerificationError);
  return (error as WebhookVerificationError).code;
}

describe("verifyWebhook against the edge's signer", () => {
  it("verifies a delivery signed with one secret and returns the parsed event", async () => {
    const { current } = await secrets();
    expect(current).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const headers = signWebhook([current], "msg_1", payload, AT);
    await expect(verifyWebhook({ payload, headers, secret: current, now: AT })).resolves.toEqual(event);
  });

  it("during a rotation, verifies with either secret (two signatures in the header)", async () => {
    const { old, current } = await secrets();
    const headers = signWebhook([current, old], "msg_2", payload, AT);
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    for (const secret of [current, old, [current, old], [old, current]]) {
      await expect(verifyWebhookSignature({ payload, headers, secret, now: AT })).resolves.toBeUndefined();
    }
    // A receiver that already switched to the new secret also accepts deliveries signed by the old one alone
    // if it keeps both during the overlap.
    const oldOnly = signWebhook([old], "msg_3", payload, AT);
    await expect(verifyWebhookSignature({ payload, headers: oldOnly, secret: [current, old], now: AT })).resolves.toBe(
      undefined,
    );
  });

  it("refuses a wrong secret, another tenant's secret and a tampered body", async () => {
    const { old, current } = await secrets();
    const headers = signWebhook([current, old], "msg_4", payload, AT);
    const other = await tenantWebhookSecret(MASTER, "tenant_b", 1);
    expect(await refusal(verifyWebhook({ payload, headers, secret: other, now: AT }))).toBe("no_matching_signature");
    const wrongMaster = await tenantWebhookSecret("another-master", "tenant_a", 1);
    expect(await refusal(verifyWebhook({ payload, headers, secret: wrongMaster, now: AT }))).toBe(
      "no_matching_signature",
    );
    const tampered = payload.replace('"succeeded"', '"failed"');
    expect(await refusal(verifyWebhook({ payload: tampered, headers, secret: current, now: AT }))).toBe(
      "no_matching_signature",
    );
    // The id and timestamp are signed too.
    const movedId = { ...headers, "webhook-id": "msg_5" };
    expect(await refusal(verifyWebhook({ payload, headers: movedId, secret: current, now: AT }))).toBe(
      "no_matching_signature",
    );
  });

  it("refuses a delivery older or newer than 5 minutes, accepts one at the edge of the window", async () => {
    const { current } = await secrets();
    const headers = signWebhook([current], "msg_6", payload, AT);
    const after = (seconds: number) => new Date(AT.getTime() + seconds * 1_000);
    await expect(verifyWebhookSignature({ payload, headers, secret: current, now: after(300) })).resolves.toBe(
      undefined,
    );
    await expect(verifyWebhookSignature({ payload, headers, secret: current, now: after(-300) })).resolves.toBe(
      undefined,
    );
    expect(await refusal(verifyWebhook({ payload, headers, secret: current, now: after(301) }))).toBe(
      "timestamp_too_old",
    );
    expect(await refusal(verifyWebhook({ payload, headers, secret: current, now: after(-301) }))).toBe(
      "timestamp_too_new",
    );
  });

  it("refuses missing headers, a malformed timestamp and signatures of another version", async () => {
    const { current } = await secrets();
    const headers = signWebhook([current], "msg_7", payload, AT);
    const { "webhook-signature": _dropped, ...unsigned } = headers;
    expect(await refusal(verifyWebhook({ payload, headers: unsigned, secret: current, now: AT }))).toBe(
      "missing_headers",
    );
    expect(
      await refusal(
        verifyWebhook({ payload, headers: { ...headers, "webhook-timestamp": "soon" }, secret: current, now: AT }),
      ),
    ).toBe("invalid_timestamp");
    const v2 = { ...headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,") };
    expect(await refusal(verifyWebhook({ payload, headers: v2, secret: current, now: AT }))).toBe(
      "no_matching_signature",
    );
    expect(await refusal(verifyWebhook({ payload, headers, secret: "whsec_!!!", now: AT }))).toBe("invalid_secret");
    expect(await refusal(verifyWebhook({ payload, headers, secret: [], now: AT }))).toBe("invalid_secret");
  });

  it("takes the body as bytes and the headers as a Headers object or Node's mixed-case record", async () => {
    const { current } = await secrets();
    const signed = signWebhook([current], "msg_8", payload, AT);
    const bytes = new TextEncoder().encode(payload);
    await expect(
      verifyWebhook({ payload: bytes, headers: new Headers({ ...signed }), secret: current, now: AT }),
    ).resolves.toEqual(event);
    const nodeStyle = {
      "Webhook-Id": signed["webhook-id"],
      "Webhook-Timestamp": [signed["webhook-timestamp"]],
      "Webhook-Signature": signed["webhook-signature"],
    };
    await expect(
      verifyWebhook({ payload: bytes.buffer, headers: nodeStyle, secret: current, now: AT }),
    ).resolves.toEqual(event);
  });

  it("refuses an authentic body that is not a known event", async () => {
    const { current } = await secrets();
    const body = JSON.stringify({ type: "generation.started", timestamp: AT.toISOString(), data: {} });
    const headers = signWebhook([current], "msg_9", body, AT);
    await expect(verifyWebhookSignature({ payload: body, headers, secret: current, now: AT })).resolves.toBeUndefined();
    expect(await refusal(verifyWebhook({ payload: body, headers, secret: current, now: AT }))).toBe("invalid_payload");
  });
});
