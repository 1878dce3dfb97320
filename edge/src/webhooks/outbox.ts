import type { WebhookDelivery, WebhookEventType, WebhookStatus } from "@bd3-serve/shared";
import type { Schedule } from "../job/schedule.ts";

/**
 * The webhook outbox of one job: a `deliveries` table in the job's SQLite and one `delivery:<id>` task per
 * pending row in its schedule. A row keeps the exact body, so every retry sends the same bytes under the
 * same `webhook-id`; only the timestamp and signature change per attempt.
 *
 * Status: `pending` (will be tried again), `succeeded` (a 2xx), `failed` (the retry schedule ran out),
 * `gave_up` (the receiver answered 410 Gone, or the URL no longer passes the SSRF check).
 */
export const DELIVERIES_TABLE_SQL = `CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  event_type TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error TEXT,
  next_attempt_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);`;

export const DELIVERY_TASK_PREFIX = "delivery:";

interface DeliveryRow extends Record<string, SqlStorageValue> {
  id: string;
  event_type: string;
  body: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface PendingDelivery {
  id: string;
  body: string;
  attempts: number;
}

export type AttemptResult =
  | { status: "succeeded" | "gave_up" | "failed"; statusCode: number | null; error: string | null }
  | { status: "pending"; statusCode: number | null; error: string | null; nextAttemptAt: number };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class WebhookOutbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly schedule: Schedule,
  ) {}

  ensureSchema(): void {
    this.sql.exec(DELIVERIES_TABLE_SQL);
  }

  /** Records a new delivery, due at once. */
  add(eventType: WebhookEventType, body: string, nowMs: number): string {
    const id = `dlv_${crypto.randomUUID().replace(/-/g, "")}`;
    this.sql.exec(
      "INSERT INTO deliveries (id, event_type, body, status, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
      id,
      eventType,
      body,
      nowMs,
      nowMs,
      nowMs,
    );
    this.schedule.set(`${DELIVERY_TASK_PREFIX}${id}`, nowMs);
    return id;
  }

  pending(id: string): PendingDelivery | null {
    const row = this.sql
      .exec<DeliveryRow>("SELECT * FROM deliveries WHERE id = ? AND status = 'pending'", id)
      .toArray()[0];
    return row ? { id: row.id, body: row.body, attempts: row.attempts } : null;
  }

  record(id: string, result: AttemptResult, nowMs: number): void {
    const nextAttemptAt = result.status === "pending" ? result.nextAttemptAt : null;
    this.sql.exec(
      "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status_code = ?, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
      result.status,
      result.statusCode,
      result.error,
      nextAttemptAt,
      nowMs,
      id,
    );
    if (nextAttemptAt === null) this.schedule.clear(`${DELIVERY_TASK_PREFIX}${id}`);
    else this.schedule.set(`${DELIVERY_TASK_PREFIX}${id}`, nextAttemptAt);
  }

  /** Stops every pending delivery (410 Gone: the endpoint is the same for all of this job's events). */
  giveUpAll(reason: string, nowMs: number): void {
    this.sql.exec(
      "UPDATE deliveries SET status = 'gave_up', last_error = ?, next_attempt_at = NULL, updated_at = ? WHERE status = 'pending'",
      reason,
      nowMs,
    );
    this.schedule.clearPrefix(DELIVERY_TASK_PREFIX);
  }

  /** Retention: bodies (they hold the text) are emptied, and what was still pending is given up. */
  purge(reason: string, nowMs: number): void {
    this.giveUpAll(reason, nowMs);
    this.sql.exec("UPDATE deliveries SET body = ''");
  }

  /**
   * The job's webhook status from its deliveries (one aggregate query): given_up when any gave up or ran out
   * of retries, failing when a pending one has failed attempts, pending when any is still to be sent,
   * delivered otherwise (including "nothing to send yet" once a delivery succeeded; pending before any).
   */
  status(): WebhookStatus {
    const row = this.sql
      .exec<{ pending: number; failing: number; given_up: number; attempts: number; total: number }>(
        `SELECT
           COALESCE(SUM(status = 'pending'), 0) AS pending,
           COALESCE(SUM(status = 'pending' AND attempts > 0), 0) AS failing,
           COALESCE(SUM(status IN ('gave_up', 'failed')), 0) AS given_up,
           COALESCE(SUM(attempts), 0) AS attempts,
           COUNT(*) AS total
         FROM deliveries`,
      )
      .toArray()[0];
    const last = this.sql
      .exec<{ last_status_code: number | null }>(
        "SELECT last_status_code FROM deliveries WHERE attempts > 0 ORDER BY updated_at DESC, rowid DESC LIMIT 1",
      )
      .toArray()[0];
    const counts = row ?? { pending: 0, failing: 0, given_up: 0, attempts: 0, total: 0 };
    const status =
      counts.given_up > 0
        ? "given_up"
        : counts.failing > 0
          ? "failing"
          : counts.pending > 0 || counts.total === 0
            ? "pending"
            : "delivered";
    return { status, last_status_code: last?.last_status_code ?? null, attempts: counts.attempts };
  }

  list(): WebhookDelivery[] {
    return this.sql
      .exec<DeliveryRow>("SELECT * FROM deliveries ORDER BY created_at, rowid")
      .toArray()
      .map((row) => ({
        id: row.id,
        event_type: row.event_type as WebhookDelivery["event_type"],
        status: row.status as WebhookDelivery["status"],
        attempts: row.attempts,
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        next_attempt_at: iso(row.next_attempt_at),
        created_at: iso(row.created_at) ?? "",
        updated_at: iso(row.updated_at) ?? "",
      }));
  }
}
