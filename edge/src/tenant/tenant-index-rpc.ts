import type { JobStatus, Quota, UsageReport } from "@bd3-serve/shared";

/**
 * What the rest of the edge may call on a tenant's index object through its stub (env.ts types `TENANTS` by
 * this, not by the class). TenantIndex implements it (bindings-conformance.ts checks that); the shapes of
 * its arguments and answers live here with it, a leaf of types that imports no class, and the tenant files
 * that implement each concern (reader-slots.ts, running-slots.ts, tenant-usage.ts, webhook-secrets.ts)
 * import them from here.
 */
export interface TenantIndexRpc extends Rpc.DurableObjectBranded {
  /** A live-reader slot of this tenant (a lease, reader-slots.ts), or a refusal at `max`. */
  acquireReader(jobId: string, max: number, ttlMs: number): SlotGrant;
  renewReaders(slotIds: string[], ttlMs: number): void;
  releaseReader(slotId: string): void;
  /** The tenant's webhook secret generations (webhook-secrets.ts). */
  webhookSecretState(): WebhookSecretState;
  rotateWebhookSecret(overlapMs: number): WebhookSecretState;
  /** A job's status, pushed by its object after each change (a lower `statusVersion` never overwrites). */
  upsert(entry: IndexEntry): void;
  /** Quota check and count of a create, before its job exists (tenant-usage.ts). */
  admit(request: AdmitRequest): Admission;
  /** A lease's pass through `max_running_jobs` (running-slots.ts): count and mark in one step. */
  tryStart(request: RunningStartRequest): RunningStart;
  /** `GET /v1/usage`: live counts and the last `days` days. */
  usageReport(days: number): TenantUsageReport;
  remove(jobId: string): void;
  list(request: IndexListRequest): IndexPage;
}

export interface IndexEntry {
  jobId: string;
  status: JobStatus;
  statusVersion: number;
  createdAt: number;
  /** A terminal job's usage and when it ended: counted once toward the tenant's usage (tenant-usage.ts). */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  finishedAt?: number | null;
}

export interface IndexListRequest {
  status: JobStatus | null;
  beforeSeq: number | null;
  limit: number;
}

export interface IndexPage {
  jobIds: string[];
  /** Pass back as `beforeSeq` for the next (older) page; null on the last page. */
  nextBeforeSeq: number | null;
}

export type SlotGrant = { ok: true; slotId: string } | { ok: false; numLive: number };

export interface WebhookSecretState {
  generation: number;
  /** The generation still signed with during an overlap, and until when (ms); null outside one. */
  previous: { generation: number; expiresAtMs: number } | null;
}

export interface AdmitRequest {
  jobId: string;
  keyId: string;
  nowMs: number;
  quota: Quota;
}

export type Admission =
  | { ok: true; isNew: boolean }
  | { ok: false; quota: keyof Quota; limit: number; retryAfterSeconds: number };

export interface RunningStartRequest {
  jobId: string;
  /** The tenant's max_running_jobs. */
  max: number;
  /** The job's status_version now (queued); the lease's own index sync carries a higher one. */
  statusVersion: number;
  createdAt: number;
}

export type RunningStart = { ok: true; running: number } | { ok: false; running: number };

/** The tenant's live counts (tenant-usage.ts `counts`). */
export interface UsageCounts {
  queued: number;
  running: number;
  completionTokensToday: number;
}

export interface TenantUsageReport {
  now: UsageCounts;
  /** Today first, per day and per key, as the public report shows them. */
  days: UsageReport["days"];
}
