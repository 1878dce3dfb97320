import { z } from "zod";
import { ModelNameSchema, PrioritySchema } from "./create-generation.ts";
import { IdSchema, TimestampSchema } from "./ids.ts";
import { MetadataSchema } from "./metadata.ts";
import { SamplingParamsSchema } from "./sampling.ts";

/**
 * Job lifecycle: queued -> running -> succeeded | failed | canceled, and queued | running -> expired when a
 * queue deadline passes. Terminal states never change.
 */
export const JobStatusSchema = z.enum(["queued", "running", "succeeded", "failed", "canceled", "expired"]);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "canceled", "expired"];

export function isTerminalJobStatus(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.includes(status);
}

/**
 * Why generation stopped: `eos` (the model ended the document), `stop_sequence`, `max_tokens`, `repetition`
 * (the degenerate-repetition entropy check of the reference sampler), `canceled`, `error`.
 */
export const FinishReasonSchema = z.enum(["eos", "stop_sequence", "max_tokens", "repetition", "canceled", "error"]);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

export const UsageSchema = z.strictObject({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  /** Model forwards (network function evaluations) the worker spent on this job. */
  forwards: z.int().min(0),
});
export type Usage = z.infer<typeof UsageSchema>;

export const JobErrorSchema = z.strictObject({
  code: z.string().min(1).max(100),
  message: z.string().max(2_000),
});
export type JobError = z.infer<typeof JobErrorSchema>;

/**
 * Where the job's webhook deliveries stand: `pending` (not yet sent, or its first attempt is due),
 * `delivered` (every event so far answered 2xx), `failing` (an attempt failed and will be retried),
 * `given_up` (the retries ran out, or the receiver answered 410). Null: the job has no webhook.
 */
export const WebhookStatusSchema = z.strictObject({
  status: z.enum(["pending", "delivered", "failing", "given_up"]),
  /** The HTTP status of the latest attempt of any event; null before the first, or on a network error. */
  last_status_code: z.int().nullable(),
  attempts: z.int().min(0),
});
export type WebhookStatus = z.infer<typeof WebhookStatusSchema>;

export const JobUrlsSchema = z.strictObject({
  self: z.string(),
  stream: z.string(),
  blocks: z.string(),
  cancel: z.string(),
  deliveries: z.string(),
  /** The document as a Durable Streams text stream (offsets, long-poll, SSE; paged for any length). */
  text: z.string(),
});

/** `GET /v1/generations/:id`: everything a poller needs. */
export const JobViewSchema = z.strictObject({
  id: IdSchema,
  object: z.literal("generation"),
  status: JobStatusSchema,
  model: ModelNameSchema,
  params: SamplingParamsSchema.extend({ seed: z.int().min(0) }),
  /** Committed blocks, their tokens, and the UTF-8 bytes of their text. */
  progress: z.strictObject({ blocks: z.int().min(0), tokens: z.int().min(0), text_bytes: z.int().min(0) }),
  /**
   * Text of all committed blocks, in order; null when it is longer than INLINE_TEXT_MAX_BYTES (read it from
   * `urls.text` then).
   */
  text: z.string().nullable(),
  /** Days the text is kept after the job finishes (reads answer 410 afterwards). */
  retention_days: z.int().min(1),
  finish_reason: FinishReasonSchema.nullable(),
  usage: UsageSchema.nullable(),
  error: JobErrorSchema.nullable(),
  metadata: MetadataSchema,
  /** True once the worker stopped heart-beating for longer than the stall timeout while the job was running. */
  is_stalled: z.boolean(),
  /** The x-request-id of the request that created the job (it also travels in the queue message). */
  request_id: z.string().nullable(),
  /** The latest the job may start (`ttl_seconds`, capped by the edge's queue deadline); then `expired`. */
  start_by: TimestampSchema,
  /** `timeout_seconds` (or `Cancel-After`): how long it may run once started; null: no limit of its own. */
  timeout_seconds: z.int().min(1).nullable(),
  webhook_status: WebhookStatusSchema.nullable(),
  /** 0 low, 1 normal, 2 high: the queue the job waits in (one per model and priority). */
  priority: PrioritySchema,
  /**
   * While queued: jobs of the same model and priority created before this one and not yet started (0: next).
   * Null once it started or ended, for the few milliseconds before the queue ledger has placed it, and in list
   * rows (read the job for its place).
   */
  queue_position: z.int().min(0).nullable(),
  /**
   * While queued: when it should start, from the queue's recent start rate (a moving average); null when
   * unknown (no start seen yet) and once it started.
   */
  estimated_start_at: TimestampSchema.nullable(),
  created_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  finished_at: TimestampSchema.nullable(),
  urls: JobUrlsSchema,
});
export type JobView = z.infer<typeof JobViewSchema>;

/**
 * One row of `GET /v1/generations`: the view without the text. A list row's `queue_position` and
 * `estimated_start_at` are always null (a list costs no ledger call per row): read the job for its place.
 */
export const JobSummarySchema = JobViewSchema.omit({ text: true });
export type JobSummary = z.infer<typeof JobSummarySchema>;

export const JobListPageSchema = z.strictObject({
  object: z.literal("list"),
  data: z.array(JobSummarySchema),
  has_more: z.boolean(),
  /** Opaque cursor for the next (older) page; null on the last page. */
  next_cursor: z.string().nullable(),
});
export type JobListPage = z.infer<typeof JobListPageSchema>;
