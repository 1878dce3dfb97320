import { DurableObject } from "cloudflare:workers";
import { JOB_LIST_LIMIT_MAX } from "@bd3-serve/shared";
import type { Env } from "../env.ts";
import { addMissingColumns } from "../storage/added-columns.ts";
import { TenantReaderSlots } from "./reader-slots.ts";
import { tryStartRunning } from "./running-slots.ts";
import type {
  Admission,
  AdmitRequest,
  IndexEntry,
  IndexListRequest,
  IndexPage,
  RunningStart,
  RunningStartRequest,
  SlotGrant,
  TenantUsageReport,
  WebhookSecretState,
} from "./tenant-index-rpc.ts";
import { TenantUsage, USAGE_JOB_COLUMNS, USAGE_TABLES_SQL } from "./tenant-usage.ts";
import { TenantWebhookSecrets } from "./webhook-secrets.ts";

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  status_version INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status_seq ON jobs (status, seq);
${USAGE_TABLES_SQL}`;

/**
 * The job index of one tenant (one Durable Object per tenant, named by the tenant id), so that
 * `GET /v1/generations` can list newest first and filter by status without touching every job.
 *
 * Storage: `jobs(seq, job_id, status, status_version, created_at)`; `seq` is an autoincrement in creation
 * order and the list cursor. Job objects push their status here after each change (with a version, so a
 * retried older update never overwrites a newer one); the list page then reads each job's live summary
 * from its own object. Trade-off: one index object serialises a tenant's creates (~1k/s per tenant), and
 * the status filter is eventually consistent with the jobs (an update in flight or scheduled for retry).
 */
export class TenantIndex extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly readerSlots: TenantReaderSlots;
  private readonly webhookSecrets: TenantWebhookSecrets;
  private readonly usage: TenantUsage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA_SQL);
    addMissingColumns(this.sql, "jobs", USAGE_JOB_COLUMNS);
    this.usage = new TenantUsage(this.sql);
    this.readerSlots = new TenantReaderSlots(this.sql);
    this.webhookSecrets = new TenantWebhookSecrets(this.sql);
  }

  /** A live-reader slot of this tenant (a lease, tenant/reader-slots.ts), or a refusal at `max`. */
  acquireReader(jobId: string, max: number, ttlMs: number): SlotGrant {
    return this.readerSlots.acquire(jobId, max, ttlMs, Date.now());
  }

  renewReaders(slotIds: string[], ttlMs: number): void {
    this.readerSlots.renew(slotIds, ttlMs, Date.now());
  }

  releaseReader(slotId: string): void {
    this.readerSlots.release(slotId);
  }

  /** Live reader slots of this tenant now (tests, diagnostics). */
  numLiveReaders(): number {
    return this.readerSlots.numLive(Date.now());
  }

  /** The tenant's webhook secret generations (tenant/webhook-secrets.ts). */
  webhookSecretState(): WebhookSecretState {
    return this.webhookSecrets.state(Date.now());
  }

  rotateWebhookSecret(overlapMs: number): WebhookSecretState {
    return this.webhookSecrets.rotate(overlapMs, Date.now());
  }

  upsert(entry: IndexEntry): void {
    this.sql.exec(
      `INSERT INTO jobs (job_id, status, status_version, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, status_version = excluded.status_version
       WHERE excluded.status_version > jobs.status_version`,
      entry.jobId,
      entry.status,
      entry.statusVersion,
      entry.createdAt,
    );
    if (entry.usage && entry.finishedAt) this.usage.recordUsage(entry.jobId, entry.usage, entry.finishedAt);
  }

  /** Quota check and count of a create, before its job exists (tenant-usage.ts). */
  admit(request: AdmitRequest): Admission {
    return this.usage.admit(request);
  }

  /** A lease's pass through `max_running_jobs` (tenant/running-slots.ts): count and mark in one step. */
  tryStart(request: RunningStartRequest): RunningStart {
    return tryStartRunning(this.sql, request);
  }

  /** `GET /v1/usage`: live counts and the last `days` days. */
  usageReport(days: number): TenantUsageReport {
    const nowMs = Date.now();
    return { now: this.usage.counts(nowMs), days: this.usage.daily(nowMs, days) };
  }

  remove(jobId: string): void {
    this.sql.exec("DELETE FROM jobs WHERE job_id = ?", jobId);
  }

  list({ status, beforeSeq, limit }: IndexListRequest): IndexPage {
    const take = Math.min(Math.max(1, limit), JOB_LIST_LIMIT_MAX) + 1;
    const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const rows = (
      status === null
        ? this.sql.exec<{ seq: number; job_id: string }>(
            "SELECT seq, job_id FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?",
            before,
            take,
          )
        : this.sql.exec<{ seq: number; job_id: string }>(
            "SELECT seq, job_id FROM jobs WHERE status = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            status,
            before,
            take,
          )
    ).toArray();
    const page = rows.slice(0, take - 1);
    const hasMore = rows.length === take;
    return { jobIds: page.map((row) => row.job_id), nextBeforeSeq: hasMore ? (page.at(-1)?.seq ?? null) : null };
  }
}
