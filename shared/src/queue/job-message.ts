import { z } from "zod";
import { ModelNameSchema, PrioritySchema } from "../api/create-generation.ts";
import { IdSchema, TimestampSchema } from "../api/ids.ts";
import { PromptSchema, SamplingParamsSchema } from "../api/sampling.ts";
import { REQUEST_ID_MAX_LENGTH } from "../limits.ts";

/** Version of the queue message; a worker refuses (fails on the edge, then deletes) any other version. */
export const JOB_MESSAGE_VERSION = 1;

/**
 * The SQS message body for one job. It carries everything a worker needs to run the job and to call the edge
 * for this job only: `capability` is an HMAC over the job id with the edge's secret (never a tenant key).
 */
export const JobMessageSchema = z.strictObject({
  version: z.literal(JOB_MESSAGE_VERSION),
  job_id: IdSchema,
  capability: z.string().min(16).max(256),
  model: ModelNameSchema,
  prompt: PromptSchema,
  /** Sampling options with defaults applied and the seed resolved, so every worker draws the same noise. */
  params: SamplingParamsSchema.extend({ seed: z.int().min(0).max(0xffff_ffff) }),
  enqueued_at: TimestampSchema,
  /** How many times this job was re-enqueued as a continuation (SQS caps one message's visibility at 12 h). */
  continuation: z.int().min(0).default(0),
  /** The x-request-id of the create, for the worker's logs (one grep follows a job end to end). */
  request_id: z.string().max(REQUEST_ID_MAX_LENGTH).nullable().default(null),
  /**
   * The latest the job may start: a worker that receives the message later deletes it without leasing (the
   * edge expires the job on its own). Absent in messages from older edges.
   */
  start_by: TimestampSchema.optional(),
  /**
   * The priority of the queue the edge sent it to (for the worker's logs; the queue itself is what orders
   * jobs). Absent in messages from older edges; a worker older than the field refuses it (strict schema), so
   * workers are rolled out before the edge (docs/worker-api.md).
   */
  priority: PrioritySchema.optional(),
});
export type JobMessage = z.infer<typeof JobMessageSchema>;

/** Minimal view used to fail a message that does not parse: only the fields needed to reach the edge. */
export const JobMessageEnvelopeSchema = z.looseObject({
  version: z.unknown(),
  job_id: IdSchema,
  capability: z.string().min(16).max(256),
});
export type JobMessageEnvelope = z.infer<typeof JobMessageEnvelopeSchema>;
