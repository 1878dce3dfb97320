import { z } from "zod";
import { BlockSchema } from "../api/block.ts";
import { FinishReasonSchema, JobStatusSchema, UsageSchema } from "../api/job.ts";
import {
  BLOCK_STREAM_BATCH_MAX_BLOCKS,
  BLOCK_TEXT_MAX_BYTES,
  BLOCK_TOKENS_MAX,
  ERROR_MESSAGE_MAX_LENGTH,
  WORKER_ID_MAX_LENGTH,
} from "../limits.ts";
import { utf8ByteLength } from "../utf8.ts";

/**
 * Worker-to-edge calls. Each is authorised by the per-job capability from the queue message
 * (`Authorization: Bearer <capability>`) and fenced by the lease epoch: a call with an older epoch than the
 * job's current one is refused with code `stale_epoch`, so a worker that lost its lease cannot write.
 */

export const EpochSchema = z.int().min(1);
export const TokenIdSchema = z.int().min(0).max(0x7fff_ffff);

export const LeaseRequestSchema = z.strictObject({
  worker_id: z.string().min(1).max(WORKER_ID_MAX_LENGTH),
});
export type LeaseRequest = z.infer<typeof LeaseRequestSchema>;

/**
 * How a block ended the generation: the finish reasons a worker reports with the job's last block (not
 * `error`, whose block is never appended, nor `canceled`, which is not a block's).
 */
export const BlockFinishReasonSchema = FinishReasonSchema.exclude(["error", "canceled"]);
export type BlockFinishReason = z.infer<typeof BlockFinishReasonSchema>;

/** The lease: a new epoch and what is already committed, so the worker resumes at the next block. */
export const LeaseReplySchema = z.strictObject({
  epoch: EpochSchema,
  status: JobStatusSchema,
  committed_blocks: z.int().min(0),
  /** Token ids of every committed block in order (the prompt excluded), to rebuild the KV cache. */
  committed_token_ids: z.array(TokenIdSchema),
  /** True when the job was canceled (the worker should stop at once and delete the message). */
  is_canceled: z.boolean(),
  /**
   * The `finish_reason` appended with the last committed block: the generation already ended (a worker died
   * before `finish`), so the worker finishes the job with it instead of generating. Null otherwise. Optional
   * on the wire (older edges never send it; edges omit it when null, so older workers still parse the reply).
   */
  final_finish_reason: BlockFinishReasonSchema.nullable().default(null),
});
export type LeaseReply = z.infer<typeof LeaseReplySchema>;
/** The lease reply as sent (`final_finish_reason` may be left out). */
export type LeaseReplyInput = z.input<typeof LeaseReplySchema>;

/**
 * Append one block. Idempotent by index: the same index with the same content (text, token ids and
 * `finish_reason`) is a no-op. `finish_reason` is set only on the block that ended the generation.
 */
export const AppendBlockRequestSchema = z.strictObject({
  epoch: EpochSchema,
  block: BlockSchema,
  token_ids: z.array(TokenIdSchema).max(BLOCK_TOKENS_MAX),
  finish_reason: BlockFinishReasonSchema.optional(),
});
export type AppendBlockRequest = z.infer<typeof AppendBlockRequestSchema>;

export const AppendBlockReplySchema = z.strictObject({
  result: z.enum(["appended", "duplicate"]),
  committed_blocks: z.int().min(0),
  is_canceled: z.boolean(),
});
export type AppendBlockReply = z.infer<typeof AppendBlockReplySchema>;

/**
 * One message of the worker's block stream (`POST /internal/v1/jobs/:id/block-stream`, a Durable Streams
 * JSON-mode append written by the lease holder's idempotent producer; docs/worker-api.md). Its token count
 * is its number of ids; `finish_reason` is set on the block that ended the generation.
 */
export const BlockRecordSchema = z.strictObject({
  index: z.int().min(0),
  text: z.string().refine((text) => utf8ByteLength(text) <= BLOCK_TEXT_MAX_BYTES, {
    message: `block text must be at most ${BLOCK_TEXT_MAX_BYTES} UTF-8 bytes`,
  }),
  token_ids: z.array(TokenIdSchema).max(BLOCK_TOKENS_MAX),
  finish_reason: BlockFinishReasonSchema.optional(),
});
export type BlockRecord = z.infer<typeof BlockRecordSchema>;

/** The body of one block-stream append: the producer's batch, in index order. */
export const BlockStreamAppendSchema = z.array(BlockRecordSchema).min(1).max(BLOCK_STREAM_BATCH_MAX_BLOCKS);

/** The JSON body of an accepted (200) or duplicate (204: no body) block-stream append. */
export const BlockStreamReplySchema = z.strictObject({
  committed_blocks: z.int().min(0),
  is_canceled: z.boolean(),
});
export type BlockStreamReply = z.infer<typeof BlockStreamReplySchema>;

/** Response headers of the block stream beside the protocol's own (read by the worker's producer fetch). */
export const BLOCK_STREAM_HEADERS = {
  committedBlocks: "Bd3-Committed-Blocks",
  isCanceled: "Bd3-Cancel-Requested",
} as const;

export const HeartbeatRequestSchema = z.strictObject({ epoch: EpochSchema });
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;

export const HeartbeatReplySchema = z.strictObject({ status: JobStatusSchema, is_canceled: z.boolean() });
export type HeartbeatReply = z.infer<typeof HeartbeatReplySchema>;

export const FinishRequestSchema = z.strictObject({
  epoch: EpochSchema,
  finish_reason: FinishReasonSchema.exclude(["error"]),
  usage: UsageSchema,
});
export type FinishRequest = z.infer<typeof FinishRequestSchema>;

/**
 * Fail the job. `epoch` is absent when the worker never got a lease (e.g. the message did not parse).
 * `is_retryable` asks the edge to keep the job queued for another attempt instead of failing it.
 */
export const FailRequestSchema = z.strictObject({
  epoch: EpochSchema.optional(),
  code: z.string().min(1).max(100),
  message: z.string().max(ERROR_MESSAGE_MAX_LENGTH),
  is_retryable: z.boolean().default(false),
});
export type FailRequest = z.infer<typeof FailRequestSchema>;

/**
 * Give the lease back (a draining worker, before it makes its message visible again): the lease ends now,
 * so the next worker's lease is granted at once instead of after the lease term. The job stays running
 * (its committed blocks stay; the next lease resumes after them).
 */
export const ReleaseRequestSchema = z.strictObject({ epoch: EpochSchema });
export type ReleaseRequest = z.infer<typeof ReleaseRequestSchema>;

/** Reply of finish, fail and release: the job's status after the call (a terminal status never changes). */
export const JobStatusReplySchema = z.strictObject({ status: JobStatusSchema });
export type JobStatusReply = z.infer<typeof JobStatusReplySchema>;

/** Codes of refused worker calls (HTTP 409), so the worker can tell them apart. */
export const WorkerCallErrorCodeSchema = z.enum([
  "stale_epoch",
  "block_gap",
  "block_conflict",
  "generation_ended",
  "job_terminal",
  "not_leased",
  "stream_closed",
  "sequence_reused",
  "lease_held",
  "max_tokens_exceeded",
  "tenant_running_limit",
]);
export type WorkerCallErrorCode = z.infer<typeof WorkerCallErrorCodeSchema>;
