import type { JobRecord } from "./job-record.ts";
import type { CreateJobInput } from "./job-rpc.ts";

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
