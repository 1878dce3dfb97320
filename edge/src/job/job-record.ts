import type {
  FinishReason,
  JobError,
  JobStatus,
  Metadata,
  SamplingParams,
  Usage,
  WebhookConfig,
} from "@bd3-serve/shared";

/**
 * The job row as the object's code sees it (job-store.ts maps it to and from the `job` table). A leaf of
 * types only: every part of the job object, the RPC interface and the tenant's admission read it, so it
 * imports nothing of the edge.
 */
export type JobParams = SamplingParams & { seed: number };

export interface JobRecord {
  id: string;
  tenantId: string;
  status: JobStatus;
  model: string;
  prompt: string;
  params: JobParams;
  metadata: Metadata;
  webhook: WebhookConfig | null;
  requestHash: string;
  baseUrl: string;
  epoch: number;
  workerId: string | null;
  numBlocks: number;
  numTokens: number;
  finishReason: FinishReason | null;
  usage: Usage | null;
  error: JobError | null;
  isStalled: boolean;
  cancelRequestedAt: number | null;
  lastHeartbeatAt: number | null;
  retryableFailures: number;
  enqueueAttempts: number;
  enqueuedAt: number | null;
  /** Bumped on every status change, so the tenant index never applies an older status over a newer one. */
  statusVersion: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** How long after finishing the text is kept: the create's `retention_days`; null: the edge's default. */
  retentionMs: number | null;
  /** Set when retention deleted the text: reads answer 410 from then on. */
  purgedAt: number | null;
  /** The idempotent producer of the current lease (block stream): its epoch and last accepted sequence. */
  producerEpoch: number | null;
  producerLastSeq: number | null;
  /**
   * When the current lease lapses unless its holder calls again (LEASE_TERM_SECONDS after its last call);
   * null: no lease yet, or an object from before the lease term (then `lastHeartbeatAt` + the term counts).
   */
  leaseExpiresAt: number | null;
  /** The x-request-id of the create (it travels in the queue message too); null on objects from before. */
  requestId: string | null;
  /** The latest the job may start (`ttl_seconds`, capped by the queue deadline); null: created before ttl. */
  startByAt: number | null;
  /** `timeout_seconds` / `Cancel-After` in ms: the longest it may run once started; null: no own limit. */
  timeoutMs: number | null;
  /** 0 low, 1 normal, 2 high: the queue it was sent to (null on objects from before priorities: normal). */
  priority: number | null;
  /** Its ticket in the queue ledger of (model, priority) (queue/queue-ledger.ts); null until taken. */
  queueTicket: number | null;
}
