import type {
  Block,
  BlockFinishReason,
  FinishReason,
  JobError,
  JobStatus,
  Metadata,
  SamplingParams,
  Usage,
  WebhookConfig,
} from "@bd3-serve/shared";
import { SCHEDULE_TABLE_SQL } from "./schedule.ts";

/**
 * Storage of one job object (SQLite in the Durable Object):
 * - `job`: exactly one row, the job and its lifecycle fields;
 * - `blocks`: the append-only block log, one row per index, never updated; `finish_reason` is set on the
 *   block that ended the generation (added by ALTER TABLE to objects created before it existed);
 * - `deliveries`: webhook deliveries (see webhook-outbox.ts);
 * - `schedule`: the alarm's tasks (see schedule.ts).
 * All reads and writes are synchronous, so a check-then-write in one call cannot interleave with another.
 */
const SCHEMA_SQL = `
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
  finished_at INTEGER
);
CREATE TABLE IF NOT EXISTS blocks (
  idx INTEGER PRIMARY KEY,
  text TEXT NOT NULL,
  token_count INTEGER NOT NULL,
  token_ids TEXT NOT NULL,
  finish_reason TEXT
);
${SCHEDULE_TABLE_SQL}`;

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
}

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

export interface StoredBlock extends Block {
  tokenIds: number[];
  /** Set on the block that ended the generation (AppendBlockRequest.finish_reason). */
  finishReason: BlockFinishReason | null;
}

export class JobStore {
  /** Cached once true: tables only disappear with the whole storage (`forget` after retention). */
  private isReady = false;
  /** Cached once the blocks table is known to have its `finish_reason` column. */
  private hasBlockFinishReason = false;

  constructor(private readonly sql: SqlStorage) {}

  /** True once a job was created here; read-only probes (random ids) never create tables. */
  hasSchema(): boolean {
    this.isReady ||=
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'job'").toArray().length > 0;
    return this.isReady;
  }

  ensureSchema(): void {
    this.sql.exec(SCHEMA_SQL);
    this.isReady = true;
  }

  /** Call after the storage was deleted. */
  forget(): void {
    this.isReady = false;
    this.hasBlockFinishReason = false;
  }

  /** Objects created before `blocks.finish_reason` existed get the column on first use. */
  private migrateBlocks(): void {
    if (this.hasBlockFinishReason) return;
    const row = this.sql
      .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'blocks'")
      .toArray()[0];
    if (row !== undefined && !row.sql.includes("finish_reason")) {
      this.sql.exec("ALTER TABLE blocks ADD COLUMN finish_reason TEXT");
    }
    this.hasBlockFinishReason = true;
  }

  read(): JobRecord | null {
    if (!this.hasSchema()) return null;
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

  block(index: number): StoredBlock | null {
    this.migrateBlocks();
    const row = this.sql
      .exec<{ idx: number; text: string; token_count: number; token_ids: string; finish_reason: string | null }>(
        "SELECT idx, text, token_count, token_ids, finish_reason FROM blocks WHERE idx = ?",
        index,
      )
      .toArray()[0];
    return row
      ? {
          index: row.idx,
          text: row.text,
          token_count: row.token_count,
          tokenIds: JSON.parse(row.token_ids),
          finishReason: row.finish_reason as BlockFinishReason | null,
        }
      : null;
  }

  insertBlock(block: StoredBlock): void {
    this.migrateBlocks();
    this.sql.exec(
      "INSERT INTO blocks (idx, text, token_count, token_ids, finish_reason) VALUES (?, ?, ?, ?, ?)",
      block.index,
      block.text,
      block.token_count,
      JSON.stringify(block.tokenIds),
      block.finishReason,
    );
  }

  /** Blocks with index > after, in order, at most `limit` of them. */
  blocksAfter(after: number, limit: number): Block[] {
    return this.sql
      .exec<{ idx: number; text: string; token_count: number }>(
        "SELECT idx, text, token_count FROM blocks WHERE idx > ? ORDER BY idx LIMIT ?",
        after,
        limit,
      )
      .toArray()
      .map((row) => ({ index: row.idx, text: row.text, token_count: row.token_count }));
  }

  /** The document so far: every committed block's text in index order. */
  text(): string {
    let text = "";
    for (const row of this.sql.exec<{ text: string }>("SELECT text FROM blocks ORDER BY idx")) text += row.text;
    return text;
  }

  committedTokenIds(): number[] {
    const ids: number[] = [];
    for (const row of this.sql.exec<{ token_ids: string }>("SELECT token_ids FROM blocks ORDER BY idx")) {
      for (const id of JSON.parse(row.token_ids) as number[]) ids.push(id);
    }
    return ids;
  }
}
