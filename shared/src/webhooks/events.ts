import { z } from "zod";
import { BlockSchema } from "../api/block.ts";
import { IdSchema, TimestampSchema } from "../api/ids.ts";
import { JobViewSchema } from "../api/job.ts";
import { WebhookEventTypeSchema } from "../api/webhook-config.ts";

/**
 * Webhook payloads (Standard Webhooks: the body is `{ type, timestamp, data }`; the signature headers
 * `webhook-id`, `webhook-timestamp`, `webhook-signature` are added by the edge). Terminal events carry the
 * whole job view, finished text included, so a receiver needs no extra call.
 */
export const JobEventSchema = z.strictObject({
  type: z.enum(["generation.completed", "generation.failed", "generation.canceled", "generation.expired"]),
  timestamp: TimestampSchema,
  data: JobViewSchema,
});
export type JobEvent = z.infer<typeof JobEventSchema>;

export const BlockEventSchema = z.strictObject({
  type: z.literal("generation.block"),
  timestamp: TimestampSchema,
  data: z.strictObject({ generation_id: IdSchema, block: BlockSchema }),
});
export type BlockEvent = z.infer<typeof BlockEventSchema>;

export const WebhookEventSchema = z.discriminatedUnion("type", [JobEventSchema, BlockEventSchema]);
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

/** One row of `GET /v1/generations/:id/deliveries`. */
export const WebhookDeliverySchema = z.strictObject({
  id: IdSchema,
  event_type: WebhookEventTypeSchema,
  status: z.enum(["pending", "succeeded", "failed", "gave_up"]),
  attempts: z.int().min(0),
  last_status_code: z.int().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: TimestampSchema.nullable(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
});
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;

export const WebhookDeliveryPageSchema = z.strictObject({
  object: z.literal("list"),
  data: z.array(WebhookDeliverySchema),
});
export type WebhookDeliveryPage = z.infer<typeof WebhookDeliveryPageSchema>;
