import { addMissingColumns } from "../storage/added-columns.ts";
import { BLOCK_LOG_TABLE_SQL } from "./block-log.ts";
import type { JobRecord } from "./job-record.ts";
import { SCHEDULE_TABLE_SQL } from "./schedule.ts";

/**
 * Storage of one job object (SQLite in the Durable Object):
 * - `job`: exactly one row, the job and its lifecycle fields (columns added since the first version are
 *   added by ALTER TABLE to older objects on first use);
 * - `block_log`: one row per committed block (block-log.ts); the text is in the document stream
 *   (job-document.ts, the `ds_*` tables of the stream room);
 * - `deliveries`: webhook deliveries (see webhook-outbox.ts);
 * - `schedule`: the alarm's tasks (see schedule.ts).
 * All reads and writes are synchronous, so a check-then-write in one call cannot interleave with another.
 */
export const JOB_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS job (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  status TEXT NOT NULL,
  model TEXT NOT NULL,
  prompt TEXT NOT NULL,
  params TEXT NOT NULL,
  metadata TEXT NOT NULL,
  webhook TEXT,
  request_hash TEXT NOT NULL,
  base_url TEXT NOT NULL,
  epoch INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT,
  num_blocks INTEGER NOT NULL DEFAULT 0,
  num_tokens INTEGER NOT NULL DEFAULT 0,
  finish_reason TEXT,
  usage TEXT,
  error TEXT,
  is_stalled INTEGER NOT NULL DEFAULT 0,
  cancel_requested_at INTEGER,
  last_heartbeat_at INTEGER,
  retryable_failures INTEGER NOT NULL DEFAULT 0,
  enqueue_attempts INTEGER NOT NULL DEFAULT 0,
  enqueued_at INTEGER,
  status_version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  retention_ms INTEGER,
  purged_at INTEGER,
  producer_epoch INTEGER,
  producer_last_seq INTEGER,
  lease_expires_at INTEGER,
  request_id TEXT,
  start_by_at INTEGER,
  timeout_ms INTEGER,
  priority INTEGER,
  queue_ticket INTEGER
);
${BLOCK_LOG_TABLE_SQL}
${SCHEDULE_TABLE_SQL}`;

type Column = { column: string; json?: true; bool?: true };

const COLUMNS: Record<keyof JobRecord, Column> = {
  id: { column: "id" },
  tenantId: { column: "tenant_id" },
  status: { column: "status" },
  model: { column: "model" },
  prompt: { column: "prompt" },
  params: { column: "params", json: true },
  metadata: { column: "metadata", json: true },
  webhook: { column: "webhook", json: true },
  requestHash: { column: "request_hash" },
  baseUrl: { column: "base_url" },
  epoch: { column: "epoch" },
  workerId: { column: "worker_id" },
  numBlocks: { column: "num_blocks" },
  numTokens: { column: "num_tokens" },
  finishReason: { column: "finish_reason" },
  usage: { column: "usage", json: true },
  error: { column: "error", json: true },
  isStalled: { column: "is_stalled", bool: true },
  cancelRequestedAt: { column: "cancel_requested_at" },
  lastHeartbeatAt: { column: "last_heartbeat_at" },
  retryableFailures: { column: "retryable_failures" },
  enqueueAttempts: { column: "enqueue_attempts" },
  enqueuedAt: { column: "enqueued_at" },
  statusVersion: { column: "status_version" },
  createdAt: { column: "created_at" },
  startedAt: { column: "started_at" },
  finishedAt: { column: "finished_at" },
  retentionMs: { column: "retention_ms" },
  purgedAt: { column: "purged_at" },
  producerEpoch: { column: "producer_epoch" },
  producerLastSeq: { column: "producer_last_seq" },
  leaseExpiresAt: { column: "lease_expires_at" },
  requestId: { column: "request_id" },
  startByAt: { column: "start_by_at" },
  timeoutMs: { column: "timeout_ms" },
  priority: { column: "priority" },
  queueTicket: { column: "queue_ticket" },
};

/** Columns added after the first version, with their SQL type: ALTER TABLE adds them to older objects. */
const ADDED_COLUMNS: Record<string, string> = {
  retention_ms: "INTEGER",
  purged_at: "INTEGER",
  producer_epoch: "INTEGER",
  producer_last_seq: "INTEGER",
  lease_expires_at: "INTEGER",
  request_id: "TEXT",
  start_by_at: "INTEGER",
  timeout_ms: "INTEGER",
  priority: "INTEGER",
  queue_ticket: "INTEGER",
};
const FIELDS = Object.keys(COLUMNS) as (keyof JobRecord)[];

function toColumn(field: keyof JobRecord, value: unknown): SqlStorageValue {
  const { json, bool } = COLUMNS[field];
  if (value === null || value === undefined) return null;
  if (json) return JSON.stringify(value);
  if (bool) return value ? 1 : 0;
  return value as SqlStorageValue;
}

function fromRow(row: Record<string, SqlStorageValue>): JobRecord {
  const record: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const { column, json, bool } = COLUMNS[field];
    const value = row[column] ?? null;
    record[field] = value === null ? null : json ? JSON.parse(String(value)) : bool ? value === 1 : value;
  }
  return record as unknown as JobRecord;
}

export class JobStore {
  /** Cached once true: tables only disappear with the whole storage (`forget` after retention). */
  private isReady = false;
  private hasAddedColumns = false;

  constructor(private readonly sql: SqlStorage) {}

  /** True once a job was created here; read-only probes (random ids) never create tables. */
  hasSchema(): boolean {
    this.isReady ||=
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'job'").toArray().length > 0;
    return this.isReady;
  }

  ensureSchema(): void {
    this.sql.exec(JOB_TABLES_SQL);
    this.isReady = true;
  }

  /** This object's tables were just created whole (JobCore.createTablesIfNew): nothing to probe or migrate. */
  markCreated(): void {
    this.isReady = true;
    this.hasAddedColumns = true;
  }

  /** Call after the storage was deleted. */
  forget(): void {
    this.isReady = false;
    this.hasAddedColumns = false;
  }

  /** Objects created before a column existed get it on first use. */
  private migrateColumns(): void {
    if (this.hasAddedColumns) return;
    addMissingColumns(this.sql, "job", ADDED_COLUMNS);
    this.hasAddedColumns = true;
  }

  read(): JobRecord | null {
    if (!this.hasSchema()) return null;
    this.migrateColumns();
    const row = this.sql.exec("SELECT * FROM job LIMIT 1").toArray()[0];
    return row ? fromRow(row) : null;
  }

  insert(record: JobRecord): void {
    const placeholders = FIELDS.map(() => "?").join(", ");
    const columns = FIELDS.map((field) => COLUMNS[field].column).join(", ");
    this.sql.exec(
      `INSERT INTO job (${columns}) VALUES (${placeholders})`,
      ...FIELDS.map((field) => toColumn(field, record[field])),
    );
  }

  update(patch: Partial<JobRecord>): void {
    const fields = (Object.keys(patch) as (keyof JobRecord)[]).filter((field) => field !== "id");
    if (fields.length === 0) return;
    const assignments = fields.map((field) => `${COLUMNS[field].column} = ?`).join(", ");
    this.sql.exec(`UPDATE job SET ${assignments}`, ...fields.map((field) => toColumn(field, patch[field])));
  }
}
