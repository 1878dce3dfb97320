import {
  type AppendBlockReply,
  type AppendBlockRequest,
  type BlockFinishReason,
  type BlockRecord,
  isTerminalJobStatus,
  type WebhookEventType,
} from "@bd3-serve/shared";
import { formatOffset } from "../stream/index.ts";
import { judgeProducer, type ProducerHeaders } from "../stream/producer.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";
import type { JobRecord } from "./job-record.ts";
import type { BlockStreamResult, Refusal, WorkerCallResult } from "./job-rpc.ts";
import type { JobContent, JobContext, JobRows, JobTasks, JobWebhooks } from "./job-seams.ts";
import { fence, lastFinishReason, NOT_FOUND, refuse, touch } from "./worker-fencing.ts";

/**
 * How blocks enter a job: the worker's block stream (a Durable Streams append by the lease holder's
 * idempotent producer, any number of blocks per request) and the single-block append of older workers.
 * Both commit through `commitBlocks`: every block of a request is checked first (next index, nothing after
 * a block that ended the generation), then all are written in the same synchronous step as the producer
 * state, so a request is applied whole or not at all and a retried request is recognised by its sequence.
 *
 * The producer epoch IS the lease epoch: the edge alone hands epochs out (lease), so a producer whose epoch
 * is not the current lease's is fenced with 403 by the protocol itself, and the sequence numbers restart
 * with each lease.
 */

const BLOCK_EVENT: WebhookEventType = "generation.block";

interface PendingBlock {
  index: number;
  text: string;
  tokenIds: readonly number[];
  finishReason: BlockFinishReason | null;
}

/** What the appends use of a job: its row, the schedule (stall check), the content and the outbox. */
export interface AppendParts extends JobContext, JobRows, JobTasks, JobContent, JobWebhooks {}

export function appendBlockStream(
  parts: AppendParts,
  producer: ProducerHeaders,
  records: readonly BlockRecord[],
): BlockStreamResult {
  const job = parts.readJob();
  if (job === null) return { kind: "refused", result: NOT_FOUND };
  if (isTerminalJobStatus(job.status)) {
    return { kind: "closed", tailOffset: formatOffset(parts.document.byteLength()), status: job.status };
  }
  if (job.epoch === 0 || job.status !== "running") {
    return { kind: "refused", result: refuse("not_leased", "take a lease first") };
  }
  if (producer.epoch !== job.epoch) return { kind: "stale_epoch", currentEpoch: job.epoch };
  const state =
    job.producerEpoch === job.epoch && job.producerLastSeq !== null
      ? { epoch: job.epoch, lastSeq: job.producerLastSeq }
      : null;
  const verdict = judgeProducer(state, producer);
  const isCanceled = job.cancelRequestedAt !== null;
  const now = parts.now();
  switch (verdict.kind) {
    case "duplicate": {
      // A true retry carries blocks that are committed already. Blocks past the end under a used sequence
      // number mean a second writer in one lease reusing sequence numbers: dropping them silently would lose
      // text, so it is refused.
      const lastIndex = records.at(-1)?.index ?? -1;
      if (lastIndex >= job.numBlocks) {
        return {
          kind: "refused",
          result: refuse("sequence_reused", `Producer-Seq ${producer.seq} was used for other blocks in this lease`),
        };
      }
      parts.update(touch(parts, now));
      return {
        kind: "duplicate",
        committedBlocks: job.numBlocks,
        isCanceled,
        epoch: job.epoch,
        lastSeq: verdict.lastSeq,
      };
    }
    case "stale_epoch":
      return { kind: "stale_epoch", currentEpoch: verdict.currentEpoch };
    case "invalid_epoch_seq":
      return { kind: "invalid_epoch_seq" };
    case "sequence_gap":
      return { kind: "sequence_gap", expectedSeq: verdict.expectedSeq, receivedSeq: verdict.receivedSeq };
  }
  const pending = records.map((record) => ({
    index: record.index,
    text: record.text,
    tokenIds: record.token_ids,
    finishReason: record.finish_reason ?? null,
  }));
  const refused = checkBlocks(parts, job, pending);
  if (refused !== null) return { kind: "refused", result: refused };
  const committed = commitBlocks(parts, job, pending, now, {
    producerEpoch: verdict.next.epoch,
    producerLastSeq: verdict.next.lastSeq,
  });
  return {
    kind: "accepted",
    committedBlocks: committed.numBlocks,
    isCanceled,
    tailOffset: formatOffset(parts.document.byteLength()),
    epoch: job.epoch,
    seq: producer.seq,
  };
}

/** The single-block append of workers older than the block stream: idempotent by index and content. */
export function appendBlock(parts: AppendParts, request: AppendBlockRequest): WorkerCallResult<AppendBlockReply> {
  const job = parts.readJob();
  const fenced = fence(job, request.epoch);
  if (fenced || job === null) return fenced ?? NOT_FOUND;
  const { block, token_ids: tokenIds } = request;
  const finishReason = request.finish_reason ?? null;
  if (tokenIds.length !== block.token_count) {
    return { ok: false, status: 400, message: "token_ids must hold block.token_count ids", param: "token_ids" };
  }
  const isCanceled = job.cancelRequestedAt !== null;
  const now = parts.now();
  if (block.index < job.numBlocks) {
    const entry = parts.blocks.entry(block.index);
    const same =
      entry !== null &&
      parts.document.text(entry.startByte, entry.endByte) === block.text &&
      entry.tokenIds.length === tokenIds.length &&
      entry.tokenIds.every((id, i) => id === tokenIds[i]) &&
      entry.finishReason === finishReason;
    if (!same) return refuse("block_conflict", `block ${block.index} is already committed with other content`);
    parts.update(touch(parts, now));
    return { ok: true, reply: { result: "duplicate", committed_blocks: job.numBlocks, is_canceled: isCanceled } };
  }
  const pending = [{ index: block.index, text: block.text, tokenIds, finishReason }];
  const refused = checkBlocks(parts, job, pending);
  if (refused !== null) return refused;
  const committed = commitBlocks(parts, job, pending, now, {});
  return { ok: true, reply: { result: "appended", committed_blocks: committed.numBlocks, is_canceled: isCanceled } };
}

/**
 * Null when the blocks continue the document in order and stay within the job's `max_tokens`; the refusal
 * otherwise (nothing is written). The token bound is the edge's, not the worker's: a worker that is wrong or
 * hostile cannot make a job longer (or bill more tokens) than its caller asked for.
 */
function checkBlocks(parts: AppendParts, job: JobRecord, blocks: readonly PendingBlock[]): Refusal | null {
  let endedWith = lastFinishReason(parts, job.numBlocks);
  let numTokens = job.numTokens;
  for (const [offset, block] of blocks.entries()) {
    const expected = job.numBlocks + offset;
    // A block that carried a finish_reason ended the document: text after it would be past EOS / the stop
    // sequence / max_tokens, so a confused or outdated worker cannot extend a finished generation.
    if (endedWith !== null) {
      return refuse("generation_ended", `block ${expected - 1} ended the generation (${endedWith}); finish the job`);
    }
    if (block.index < expected) {
      return refuse("block_conflict", `block ${block.index} is already committed`);
    }
    if (block.index > expected) return refuse("block_gap", `block ${block.index} is past the next index ${expected}`);
    numTokens += block.tokenIds.length;
    if (numTokens > job.params.max_tokens) {
      return refuse(
        "max_tokens_exceeded",
        `block ${block.index} would bring the job to ${numTokens} tokens, past its max_tokens ${job.params.max_tokens}`,
      );
    }
    endedWith = block.finishReason;
  }
  return null;
}

/** Writes checked blocks: document bytes, block log rows, counts, heartbeat, block webhooks; wakes readers. */
function commitBlocks(
  parts: AppendParts,
  job: JobRecord,
  blocks: readonly PendingBlock[],
  now: number,
  extra: Partial<JobRecord>,
): JobRecord {
  let numTokens = job.numTokens;
  const wantsBlockEvents = job.webhook?.events.includes(BLOCK_EVENT) ?? false;
  for (const block of blocks) {
    parts.blocks.append(block.index, block.text, block.tokenIds, block.finishReason);
    numTokens += block.tokenIds.length;
    if (wantsBlockEvents) {
      const data = {
        generation_id: job.id,
        block: { index: block.index, text: block.text, token_count: block.tokenIds.length },
      };
      parts.outbox.add(
        BLOCK_EVENT,
        JSON.stringify({ type: BLOCK_EVENT, timestamp: new Date(now).toISOString(), data }),
        now,
      );
    }
  }
  const patch = { numBlocks: job.numBlocks + blocks.length, numTokens, ...touch(parts, now), ...extra };
  parts.update(patch);
  parts.notifier.notify(DOCUMENT_STREAM);
  return { ...job, ...patch };
}
