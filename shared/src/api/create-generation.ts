import { z } from "zod";
import {
  IDEMPOTENCY_KEY_MAX_LENGTH,
  MODEL_NAME_MAX_LENGTH,
  PRIORITY_MAX,
  PRIORITY_MIN,
  RETENTION_DAYS_MAX,
  RETENTION_DAYS_MIN,
  TIMEOUT_SECONDS_MAX,
  TTL_SECONDS_MAX,
} from "../limits.ts";
import { MetadataSchema } from "./metadata.ts";
import { PromptSchema, SamplingParamsSchema } from "./sampling.ts";
import { WebhookConfigSchema } from "./webhook-config.ts";

export const ModelNameSchema = z
  .string()
  .min(1)
  .max(MODEL_NAME_MAX_LENGTH)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, { message: "model must be a lowercase slug" });

/** A job's priority (PRIORITY_MIN..PRIORITY_MAX). */
export const PrioritySchema = z.int().min(PRIORITY_MIN).max(PRIORITY_MAX);

/**
 * Body of `POST /v1/generations`. Unknown fields are rejected (every schema in this package is strict), so a
 * misspelt option is an error, never silently ignored.
 */
export const CreateGenerationRequestSchema = z.strictObject({
  prompt: PromptSchema,
  model: ModelNameSchema.optional(),
  ...SamplingParamsSchema.shape,
  webhook: WebhookConfigSchema.optional(),
  metadata: MetadataSchema.default({}),
  /** Days to keep the finished text (default: the edge's RETENTION_DAYS). */
  retention_days: z.int().min(RETENTION_DAYS_MIN).max(RETENTION_DAYS_MAX).optional(),
  /** Seconds from creation by which the job must have started, else it ends `expired` and never runs. */
  ttl_seconds: z.int().min(1).max(TTL_SECONDS_MAX).optional(),
  /** Seconds the job may run once started, else it is canceled (committed blocks kept); `Cancel-After` too. */
  timeout_seconds: z.int().min(1).max(TIMEOUT_SECONDS_MAX).optional(),
  /**
   * 0 low, 1 normal (default), 2 high: workers start a higher priority first (the lowest keeps a bounded
   * share). Above the API key's `priority_max` the create is a 403 naming `priority`.
   */
  priority: PrioritySchema.optional(),
});
export type CreateGenerationRequest = z.infer<typeof CreateGenerationRequestSchema>;
/** What a client may send (defaults not yet applied). */
export type CreateGenerationRequestInput = z.input<typeof CreateGenerationRequestSchema>;

/** `Idempotency-Key` header: 1..255 printable ASCII characters. */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(IDEMPOTENCY_KEY_MAX_LENGTH)
  .regex(/^[\x21-\x7e]+$/, { message: "Idempotency-Key must be printable ASCII without spaces" });
