import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import {
  BlockEventSchema,
  JobEventSchema,
  type JobView,
  JobViewSchema,
  type WebhookDelivery,
  WebhookDeliveryPageSchema,
} from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { deliverWebhook } from "../src/webhooks/deliver.ts";
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_SECONDS } from "../src/webhooks/retry-schedule.ts";
import { tenantWebhookSecret } from "../src/webhooks/signing.ts";
import { call, json } from "./helpers/api.ts";
import { advanceClock, clockNow, stubForKey, useManualClock } from "./helpers/job-object.ts";
import { type PlannedResponse, receivedOn, receiverPath } from "./helpers/receiver.ts";
import { append, finish, lease } from "./helpers/worker.ts";
import { TEST_KEYS } from "./test-keys.ts";

const TENANT = TEST_KEYS.webhooks.tenantId;
const DAY_MS = 86_400_000;

/** A job with a webhook to a fresh receiver path, on a manual clock (deliveries run on runDurableObjectAlarm). */
async function jobWithWebhook(responses: PlannedResponse[], events?: string[]) {
  const { url, path } = await receiverPath(responses);
  const idempotencyKey = crypto.randomUUID();
  const stub = stubForKey("webhooks", idempotencyKey);
  await useManualClock(stub);
  const response = await call("POST", "/v1/generations", {
    key: "webhooks",
    body: { prompt: "notify me", metadata: { ref: "abc" }, webhook: events ? { url, events } : { url } },
    headers: { "Idempotency-Key": idempotencyKey },
  });
  expect(response.status).toBe(202);
  const { id } = JobViewSchema.parse(await response.json());
  return { stub, jobId: id, path };
}

async function deliveries(jobId: string): Promise<WebhookDelivery[]> {
  const response = await call("GET", `/v1/generations/${jobId}/deliveries`, { key: "webhooks" });
  return WebhookDeliveryPageSchema.parse(await response.json()).data;
}

async function runJob(jobId: string, blocks = 1) {
  const { epoch } = await lease(jobId);
  for (let index = 0; index < blocks; index += 1) await append(jobId, epoch, index);
  await finish(jobId, epoch);
}

/** Standard Webhooks verification, written out: HMAC-SHA256(secret, `${id}.${timestamp}.${body}`). */
async function verifySignature(secret: string, headers: Record<string, string>, body: string): Promise<boolean> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(signed)));
  const expected = `v1,${btoa(String.fromCharCode(...mac))}`;
  return (headers["webhook-signature"] ?? "").split(" ").includes(expected);
}

describe("webhook delivery", () => {
  it("retries a receiver that fails, then succeeds, with the same id and a valid signature", async () => {
    const { stub, jobId, path } = await jobWithWebhook([{ status: 500 }, { status: 200 }]);
    await runJob(jobId, 2);
    expect(await deliveries(jobId)).toMatchObject([
      { event_type: "generation.completed", status: "pending", attempts: 0 },
    ]);

    await runDurableObjectAlarm(stub);
    const [failed] = await deliveries(jobId);
    expect(failed).toMatchObject({ status: "pending", attempts: 1, last_status_code: 500, last_error: "HTTP 500" });
    const webhookStatus = async () =>
      (await json<JobView>(await call("GET", `/v1/generations/${jobId}`, { key: "webhooks" }))).webhook_status;
    expect(await webhookStatus()).toEqual({ status: "failing", last_status_code: 500, attempts: 1 });
    const now = await clockNow(stub);
    const retryAt = Date.parse(failed!.next_attempt_at!);
    expect(retryAt - now).toBeGreaterThanOrEqual(WEBHOOK_RETRY_DELAYS_SECONDS[0]! * 900);
    expect(retryAt - now).toBeLessThanOrEqual(WEBHOOK_RETRY_DELAYS_SECONDS[0]! * 1_100);

    await advanceClock(stub, retryAt - now);
    await runDurableObjectAlarm(stub);
    expect(await deliveries(jobId)).toMatchObject([{ status: "succeeded", attempts: 2, last_status_code: 200 }]);
    expect(await webhookStatus()).toEqual({ status: "delivered", last_status_code: 200, attempts: 2 });

    const requests = await receivedOn(path);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.headers["webhook-id"]).toBe(requests[1]!.headers["webhook-id"]);
    const secret = await tenantWebhookSecret(env.WEBHOOK_SIGNING_SECRET!, TENANT);
    const wrongSecret = await tenantWebhookSecret(env.WEBHOOK_SIGNING_SECRET!, "tenant_a");
    for (const request of requests) {
      expect(request.headers["content-type"]).toBe("application/json");
      expect(await verifySignature(secret, request.headers, request.body)).toBe(true);
      expect(await verifySignature(wrongSecret, request.headers, request.body)).toBe(false);
    }
    const event = JobEventSchema.parse(JSON.parse(requests[1]!.body));
    expect(event).toMatchObject({
      type: "generation.completed",
      data: { id: jobId, status: "succeeded", text: "block 0. block 1. ", metadata: { ref: "abc" } },
    });
  });

  it("honours Retry-After", async () => {
    const { stub, jobId } = await jobWithWebhook([{ status: 503, headers: { "Retry-After": "7200" } }]);
    await runJob(jobId);
    await runDurableObjectAlarm(stub);
    const [delivery] = await deliveries(jobId);
    expect(delivery).toMatchObject({ status: "pending", last_status_code: 503 });
    expect(Date.parse(delivery!.next_attempt_at!)).toBe((await clockNow(stub)) + 7_200_000);
  });

  it("stops for good on 410 Gone, pending deliveries included", async () => {
    const { stub, jobId, path } = await jobWithWebhook([{ status: 410 }], ["generation.block", "generation.completed"]);
    await runJob(jobId, 2);
    expect(await deliveries(jobId)).toHaveLength(3);
    await runDurableObjectAlarm(stub);
    const all = await deliveries(jobId);
    expect(all.map((d) => d.status)).toEqual(["gave_up", "gave_up", "gave_up"]);
    const view = await json<JobView>(await call("GET", `/v1/generations/${jobId}`, { key: "webhooks" }));
    expect(view.webhook_status).toMatchObject({ status: "given_up", last_status_code: 410 });
    expect(all[0]).toMatchObject({ attempts: 1, last_status_code: 410 });
    expect(await receivedOn(path)).toHaveLength(1);
    await advanceClock(stub, 7 * DAY_MS);
    await runDurableObjectAlarm(stub);
    expect(await receivedOn(path)).toHaveLength(1);
  });

  it("does not follow redirects", async () => {
    const target = await receiverPath();
    const { stub, jobId } = await jobWithWebhook([{ status: 302, headers: { Location: target.url } }]);
    await runJob(jobId);
    await runDurableObjectAlarm(stub);
    expect(await deliveries(jobId)).toMatchObject([
      { status: "pending", last_status_code: 302, last_error: "redirect (302) not followed" },
    ]);
    expect(await receivedOn(target.path)).toHaveLength(0);
  });

  it("gives up after the multi-day schedule runs out", async () => {
    const { stub, jobId, path } = await jobWithWebhook(Array.from({ length: 20 }, () => ({ status: 500 })));
    await runJob(jobId);
    for (let attempt = 0; attempt < WEBHOOK_MAX_ATTEMPTS; attempt += 1) {
      await runDurableObjectAlarm(stub);
      await advanceClock(stub, 2 * DAY_MS);
    }
    expect(await deliveries(jobId)).toMatchObject([
      { status: "failed", attempts: WEBHOOK_MAX_ATTEMPTS, next_attempt_at: null },
    ]);
    expect(await receivedOn(path)).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
  });

  it("sends only the subscribed events: block events without a completion event", async () => {
    const { stub, jobId, path } = await jobWithWebhook([], ["generation.block"]);
    await runJob(jobId, 2);
    await runDurableObjectAlarm(stub);
    const all = await deliveries(jobId);
    expect(all.map((d) => [d.event_type, d.status])).toEqual([
      ["generation.block", "succeeded"],
      ["generation.block", "succeeded"],
    ]);
    const bodies = (await receivedOn(path)).map((request) => BlockEventSchema.parse(JSON.parse(request.body)));
    expect(bodies.map((event) => event.data.block.index).sort()).toEqual([0, 1]);
  });

  it("sends generation.canceled for a canceled job", async () => {
    const { stub, jobId, path } = await jobWithWebhook([]);
    await call("POST", `/v1/generations/${jobId}/cancel`, { key: "webhooks" });
    await runDurableObjectAlarm(stub);
    const [request] = await receivedOn(path);
    expect(JobEventSchema.parse(JSON.parse(request!.body))).toMatchObject({
      type: "generation.canceled",
      data: { status: "canceled" },
    });
  });

  it("abandons an attempt after the timeout", async () => {
    const { url } = await receiverPath([{ status: 200, delayMs: 2_000 }]);
    const outcome = await deliverWebhook({
      url,
      messageId: "msg_timeout",
      body: "{}",
      secrets: [await tenantWebhookSecret("a-master-secret-for-tests", TENANT)],
      at: new Date(),
      timeoutMs: 200,
    });
    expect(outcome).toEqual({ kind: "retry", statusCode: null, error: "timeout", retryAfterSeconds: null });
  });
});

describe("deliveries route", () => {
  it("is readable only by the job's tenant", async () => {
    const { jobId } = await jobWithWebhook([]);
    expect((await call("GET", `/v1/generations/${jobId}/deliveries`, { key: "tenantA" })).status).toBe(404);
    expect((await json(await call("GET", `/v1/generations/${jobId}/deliveries`, { key: "webhooks" }))).object).toBe(
      "list",
    );
  });
});
