import { describe, expect, it } from "vitest";
import { exampleJobView } from "../testing/examples.ts";
import { WebhookDeliverySchema, WebhookEventSchema } from "./events.ts";

describe("WebhookEventSchema", () => {
  it("accepts terminal events carrying the job view and block events carrying one block", () => {
    const completed = {
      type: "generation.completed",
      timestamp: "2026-11-28T10:00:05.000Z",
      data: { ...exampleJobView, status: "succeeded", finish_reason: "eos" },
    };
    expect(WebhookEventSchema.safeParse(completed).success).toBe(true);
    const block = {
      type: "generation.block",
      timestamp: "2026-11-28T10:00:05.000Z",
      data: { generation_id: "gen_1", block: { index: 0, text: "x", token_count: 1 } },
    };
    expect(WebhookEventSchema.safeParse(block).success).toBe(true);
  });

  it("rejects an unknown type and a block event with a job view", () => {
    expect(WebhookEventSchema.safeParse({ type: "generation.started", timestamp: "x", data: {} }).success).toBe(false);
    expect(
      WebhookEventSchema.safeParse({
        type: "generation.block",
        timestamp: "2026-11-28T10:00:05.000Z",
        data: exampleJobView,
      }).success,
    ).toBe(false);
  });

  it("describes a delivery attempt log row", () => {
    const row = {
      id: "dlv_1",
      event_type: "generation.completed",
      status: "pending",
      attempts: 1,
      last_status_code: 503,
      last_error: null,
      next_attempt_at: "2026-11-28T10:00:10.000Z",
      created_at: "2026-11-28T10:00:05.000Z",
      updated_at: "2026-11-28T10:00:05.000Z",
    };
    expect(WebhookDeliverySchema.parse(row)).toEqual(row);
  });
});
