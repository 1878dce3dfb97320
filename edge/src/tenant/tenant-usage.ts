import type { UsageReport } from "@bd3-serve/shared";
import type { Admission, AdmitRequest, UsageCounts } from "./tenant-index-rpc.ts";

/**
 * A tenant's quotas and usage counts, in the tenant's index object (one writer per tenant: every admission
 * and every count is one synchronous SQLite step, so 50 concurrent creates give exactly 50 counts and a quota
 * is never overshot by a race).
 *
 * Storage: `usage_daily(day, key_id, jobs, prompt_tokens, completion_tokens)`, plus on the index's `jobs` row
 * the key that created the job and whether its usage was counted. Admission (`admit`) runs on the create
 * path before the job exists: it checks the quotas against the index's live counts and, when it passes,
 * inserts the job's index row (queued) and counts the job, so the next create already sees it. A job's
 * tokens are counted once, when its index row first turns terminal with usage (`recordUsage`).
 * Trade-off: tokens count when a job ends, so a tenant's running jobs may carry it past its daily token
 * quota by their own length; the quota then refuses its next creates until the day turns (UTC).
 */

export const USAGE_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS usage_daily (
  day TEXT NOT NULL,
  key_id TEXT NOT NULL,
  jobs INTEGER NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id)
);`;

/** Columns the usage counts add to the index's `jobs` table (older objects get them on first use). */
export const USAGE_JOB_COLUMNS: Record<string, string> = {
  key_id: "TEXT",
  is_usage_counted: "INTEGER NOT NULL DEFAULT 0",
};

/** How long a refused create is told to wait for a queued-jobs quota: about when a job of it could start. */
export const QUEUED_QUOTA_RETRY_AFTER_SECONDS = 10;
/** Days `GET /v1/usage` may ask for. */
export const USAGE_DAYS_MAX = 90;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function secondsToNextUtcDay(ms: number): number {
  const next = Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), new Date(ms).getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - ms) / 1_000));
}

export class TenantUsage {
  constructor(private readonly sql: SqlStorage) {}

  private count(query: string, ...bindings: SqlStorageValue[]): number {
    return Number(this.sql.exec<{ n: number }>(query, ...bindings).toArray()[0]?.n ?? 0);
  }

  counts(nowMs: number): UsageCounts {
    return {
      queued: this.count("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'"),
      running: this.count("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running'"),
      completionTokensToday: this.count(
        "SELECT COALESCE(SUM(completion_tokens), 0) AS n FROM usage_daily WHERE day = ?",
        utcDay(nowMs),
      ),
    };
  }

  /** Checks the quotas and, when they pass, records the job (queued) and counts it. Idempotent per job. */
  admit({ jobId, keyId, nowMs, quota }: AdmitRequest): Admission {
    if (this.count("SELECT COUNT(*) AS n FROM jobs WHERE job_id = ?", jobId) > 0) return { ok: true, isNew: false };
    const now = this.counts(nowMs);
    if (quota.max_queued_jobs !== null && now.queued >= quota.max_queued_jobs) {
      return {
        ok: false,
        quota: "max_queued_jobs",
        limit: quota.max_queued_jobs,
        retryAfterSeconds: QUEUED_QUOTA_RETRY_AFTER_SECONDS,
      };
    }
    if (quota.tokens_per_day !== null && now.completionTokensToday >= quota.tokens_per_day) {
      return {
        ok: false,
        quota: "tokens_per_day",
        limit: quota.tokens_per_day,
        retryAfterSeconds: secondsToNextUtcDay(nowMs),
      };
    }
    this.sql.exec(
      "INSERT INTO jobs (job_id, status, status_version, created_at, key_id) VALUES (?, 'queued', 0, ?, ?)",
      jobId,
      nowMs,
      keyId,
    );
    this.bump(utcDay(nowMs), keyId, { jobs: 1, promptTokens: 0, completionTokens: 0 });
    return { ok: true, isNew: true };
  }

  /** Counts a terminal job's tokens once, on the day it ended, for the key that created it. */
  recordUsage(jobId: string, usage: { prompt_tokens: number; completion_tokens: number }, endedAtMs: number): void {
    const row = this.sql
      .exec<{ key_id: string | null; is_usage_counted: number }>(
        "SELECT key_id, is_usage_counted FROM jobs WHERE job_id = ?",
        jobId,
      )
      .toArray()[0];
    if (row === undefined || row.is_usage_counted === 1) return;
    this.sql.exec("UPDATE jobs SET is_usage_counted = 1 WHERE job_id = ?", jobId);
    this.bump(utcDay(endedAtMs), row.key_id ?? "unknown", {
      jobs: 0,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
    });
  }

  private bump(day: string, keyId: string, add: { jobs: number; promptTokens: number; completionTokens: number }) {
    this.sql.exec(
      `INSERT INTO usage_daily (day, key_id, jobs, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (day, key_id) DO UPDATE SET jobs = jobs + excluded.jobs,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens,
         completion_tokens = completion_tokens + excluded.completion_tokens`,
      day,
      keyId,
      add.jobs,
      add.promptTokens,
      add.completionTokens,
    );
  }

  /** The last `days` UTC days (today first) with per-key rows. */
  daily(nowMs: number, days: number): UsageReport["days"] {
    const since = utcDay(nowMs - (Math.min(days, USAGE_DAYS_MAX) - 1) * 86_400_000);
    const rows = this.sql
      .exec<{ day: string; key_id: string; jobs: number; prompt_tokens: number; completion_tokens: number }>(
        "SELECT day, key_id, jobs, prompt_tokens, completion_tokens FROM usage_daily WHERE day >= ? ORDER BY day DESC, key_id",
        since,
      )
      .toArray();
    const byDay = new Map<
      string,
      { date: string; jobs: number; prompt_tokens: number; completion_tokens: number; keys: typeof rows }
    >();
    for (const row of rows) {
      const day = byDay.get(row.day) ?? { date: row.day, jobs: 0, prompt_tokens: 0, completion_tokens: 0, keys: [] };
      day.jobs += row.jobs;
      day.prompt_tokens += row.prompt_tokens;
      day.completion_tokens += row.completion_tokens;
      day.keys.push(row);
      byDay.set(row.day, day);
    }
    return [...byDay.values()].map((day) => ({
      ...day,
      keys: day.keys.map(({ key_id, jobs, prompt_tokens, completion_tokens }) => ({
        key_id,
        jobs,
        prompt_tokens,
        completion_tokens,
      })),
    }));
  }
}
