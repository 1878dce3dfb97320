import type {
  AppendBlockReply,
  AppendBlockRequest,
  BlockPage,
  BlockRecord,
  FailRequest,
  FinishRequest,
  HeartbeatReply,
  HeartbeatRequest,
  JobStatusReply,
  JobSummary,
  JobView,
  LeaseReplyInput,
  LeaseRequest,
  Metadata,
  ReleaseRequest,
  WebhookConfig,
  WebhookDeliveryPage,
  WorkerCallErrorCode,
} from "@bd3-serve/shared";
// producer.ts imports nothing: a type from it cannot close a cycle.
import type { ProducerHeaders } from "../stream/producer.ts";
import type { JobParams } from "./job-record.ts";

/**
 * What the rest of the edge may call on a job's Durable Object through its stub (env.ts types `JOBS` by
 * this, not by the class, so the bindings do not import the object and everything it imports). JobObject
 * implements it (bindings-conformance.ts checks that), and the shapes of its arguments and answers live
 * here, with it: a leaf of types that imports no class.
 */
export interface JobObjectRpc extends Rpc.DurableObjectBranded {
  create(input: CreateJobInput): Promise<CreateJobResult>;
  view(tenantId: string): Promise<JobView | "gone" | null>;
  summary(tenantId: string): JobSummary | null;
  /** Holds the answer until the job is terminal or `timeoutMs` passed (`Prefer: wait=N`). */
  waitForTerminal(tenantId: string, timeoutMs: number): Promise<JobView | null>;
  blocks(tenantId: string, after: number, limit: number): BlockPage | "gone" | null;
  /** The document reads: `GET /stream?tenant=&after=` (SSE) and `GET|HEAD /text?tenant=&...` (job-object.ts). */
  fetch(request: Request): Promise<Response>;
  cancel(tenantId: string): Promise<CancelResult | "gone" | null>;
  deliveries(tenantId: string): WebhookDeliveryPage | null;
  lease(request: LeaseRequest): Promise<WorkerCallResult<LeaseReplyInput>>;
  appendBlock(request: AppendBlockRequest): Promise<WorkerCallResult<AppendBlockReply>>;
  appendBlockStream(producer: ProducerHeaders, records: BlockRecord[]): Promise<BlockStreamResult>;
  heartbeat(request: HeartbeatRequest): Promise<WorkerCallResult<HeartbeatReply>>;
  finish(request: FinishRequest): Promise<WorkerCallResult<JobStatusReply>>;
  fail(request: FailRequest): Promise<WorkerCallResult<JobStatusReply>>;
  release(request: ReleaseRequest): Promise<WorkerCallResult<JobStatusReply>>;
}

/**
 * Set on the object's fetch answers when the job itself is missing (`not_found`: none, or another tenant's)
 * or past its retention (`gone`), so the route can tell those from the protocol's own 404/410 of a stream.
 */
export const JOB_MISSING_HEADER = "Bd3-Job-Missing";

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
  /**
   * The tenant's index already lists this job as queued: its quota admission wrote the row in the same call
   * that counted it (tenant/tenant-usage.ts `admit`), so the create schedules no index sync of its own (one
   * object call less per create). Later status changes sync as usual.
   */
  isIndexed?: boolean;
}

export type CreateJobResult = { kind: "created" | "replayed"; view: JobView } | { kind: "mismatch" };

/** A cancel's answer: `isPending` when a running job was asked to stop (its worker stops first). */
export interface CancelResult {
  view: JobView;
  isPending: boolean;
}

/** A worker call the job refused (docs/worker-api.md): the route answers it as this status and code. */
export type Refusal = {
  ok: false;
  status: 400 | 404 | 409;
  code?: WorkerCallErrorCode;
  message: string;
  param?: string;
  /** Sent as `Retry-After`: when the refused call may succeed (a held lease's remaining term, a tenant's slot). */
  retryAfterSeconds?: number;
};

export type WorkerCallResult<T> = { ok: true; reply: T } | Refusal;

/** The answer to one producer batch of the lease holder's block stream (block-appends.ts). */
export type BlockStreamResult =
  | { kind: "accepted"; committedBlocks: number; isCanceled: boolean; tailOffset: string; epoch: number; seq: number }
  | { kind: "duplicate"; committedBlocks: number; isCanceled: boolean; epoch: number; lastSeq: number }
  | { kind: "stale_epoch"; currentEpoch: number }
  | { kind: "invalid_epoch_seq" }
  | { kind: "sequence_gap"; expectedSeq: number; receivedSeq: number }
  /** The job is terminal: its block stream is closed (409 with `Stream-Closed: true`). */
  | { kind: "closed"; tailOffset: string; status: string }
  | { kind: "refused"; result: Refusal };
