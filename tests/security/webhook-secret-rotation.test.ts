/**
 * Issue 21, item 4 on the real stack: a tenant rotates its webhook signing secret alone, with an overlap.
 * A real receiver gets a completed job's webhook after the rotation; it verifies with the old secret AND the
 * new one (two signatures in one header), so a receiver can switch at any moment of the overlap. The test
 * leaves the dev tenant inside a long overlap, so other files verifying with the old secret still pass.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { API_KEY, MODEL_NAME, purgeQueues, stackAddresses } from "../support/stack.ts";
import { finishJob, openWriter, takeJob, writeBlocks } from "../support/synthetic-writer.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(() => receiver.close());
beforeEach(purgeQueues);

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${stackAddresses().edgeUrl}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
  });
  return (await response.json()) as T;
}

interface SecretView {
  secret: string;
  generation: number;
  previous: { secret: string; expires_at: string } | null;
}

describe("webhook secret rotation", () => {
  it("signs with both secrets during the overlap", async () => {
    const before = await api<SecretView>("/v1/webhook-secret");
    const rotated = await api<SecretView>("/v1/webhook-secret/rotate", {
      method: "POST",
      body: JSON.stringify({ overlap_seconds: 86_400 }),
    });
    expect(rotated.generation).toBe(before.generation + 1);
    expect(rotated.previous?.secret).toBe(before.secret);

    const created = await api<{ id: string }>("/v1/generations", {
      method: "POST",
      body: JSON.stringify({
        model: MODEL_NAME,
        prompt: "In the beginning",
        max_tokens: 4,
        webhook: { url: receiver.url, events: ["generation.completed"] },
      }),
    });
    const job = await takeJob(created.id);
    await writeBlocks(openWriter(job), [
      { index: 0, text: "abcd", token_ids: [97, 98, 99, 100], finish_reason: "max_tokens" },
    ]);
    await finishJob(job, 4);
    const delivery = await receiver.next((received) => received.body.includes(created.id), 30_000);
    expect(delivery.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    for (const secret of [before.secret, rotated.secret]) {
      const event = new Webhook(secret).verify(delivery.body, delivery.headers) as { type: string };
      expect(event.type).toBe("generation.completed");
    }
  });
});
