import { z } from "zod";
import { WEBHOOK_URL_MAX_LENGTH } from "../limits.ts";

export const WebhookEventTypeSchema = z.enum([
  "generation.completed",
  "generation.failed",
  "generation.canceled",
  "generation.expired",
  "generation.block",
]);
export type WebhookEventType = z.infer<typeof WebhookEventTypeSchema>;

/**
 * Shape-only check of a webhook URL: https (or http, which only local development accepts), no credentials,
 * bounded length. Whether the host is a private or metadata address is decided by the edge's SSRF guard,
 * which knows whether it runs in local development.
 */
export const WebhookUrlSchema = z
  .string()
  .max(WEBHOOK_URL_MAX_LENGTH)
  .refine((raw) => URL.canParse(raw), { message: "webhook url must be an absolute URL" })
  .refine((raw) => !URL.canParse(raw) || ["https:", "http:"].includes(new URL(raw).protocol), {
    message: "webhook url must use https",
  })
  .refine(
    (raw) => {
      if (!URL.canParse(raw)) return true;
      const url = new URL(raw);
      return url.username === "" && url.password === "";
    },
    { message: "webhook url must not contain credentials" },
  );

export const WebhookConfigSchema = z.strictObject({
  url: WebhookUrlSchema,
  events: z
    .array(WebhookEventTypeSchema)
    .min(1)
    .refine((events) => new Set(events).size === events.length, { message: "webhook events must be unique" })
    .default(["generation.completed", "generation.failed", "generation.canceled", "generation.expired"]),
});
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;
