import type { Metadata, WebhookConfig } from "@bd3-serve/shared";
import type { JobParams, JobRecord } from "./job-store.ts";

/** What a create hands the job object (the route has validated and defaulted it). */
export interface CreateJobInput {
  tenantId: string;
  /** SHA-256 of the canonical request: an Idempotency-Key reused with another body is refused. */
  requestHash: string;
  model: string;
  prompt: string;
  params: JobParams;
  metadata: Metadata;
  webhook: WebhookConfig | null;
  baseUrl: string;
  /** `retention_days` of the create in milliseconds; null: the edge's default. */
  retentionMs: number | null;
  /** The create's x-request-id. */
  requestId: string | null;
  /** `ttl_seconds` in ms: start by then or expire; null: the edge's queue deadline. */
  ttlMs: number | null;
  /** `timeout_seconds` / `Cancel-After` in ms; null: no limit of its own. */
  timeoutMs: number | null;
  /** `priority` (0 low, 1 normal, 2 high), already checked against the key's ceiling. */
  priority: number;
}

/**
 * The row of a new job: queued, nothing committed, its deadlines resolved once (the start deadline is the
 * create's `ttl_seconds` capped by the edge's queue deadline, so no job waits longer than the edge allows).
 */
export function newJobRecord(id: string, input: CreateJobInput, queueDeadlineMs: number, nowMs: number): JobRecord {
  return {
    id,
    tenantId: input.tenantId,
    status: "queued",
    model: input.model,
    prompt: input.prompt,
    params: input.params,
    metadata: input.metadata,
    webhook: input.webhook,
    requestHash: input.requestHash,
    baseUrl: input.baseUrl,
    epoch: 0,
    workerId: null,
    numBlocks: 0,
    numTokens: 0,
    finishReason: null,
    usage: null,
    error: null,
    isStalled: false,
    cancelRequestedAt: null,
    lastHeartbeatAt: null,
    retryableFailures: 0,
    enqueueAttempts: 0,
    enqueuedAt: null,
    statusVersion: 1,
    createdAt: nowMs,
    startedAt: null,
    finishedAt: null,
    retentionMs: input.retentionMs,
    purgedAt: null,
    producerEpoch: null,
    producerLastSeq: null,
    leaseExpiresAt: null,
    requestId: input.requestId,
    startByAt: nowMs + Math.min(input.ttlMs ?? queueDeadlineMs, queueDeadlineMs),
    timeoutMs: input.timeoutMs,
    priority: input.priority,
    queueTicket: null,
  };
}
