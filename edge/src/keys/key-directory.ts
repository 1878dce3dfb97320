import { DurableObject } from "cloudflare:workers";
import { API_KEY_LIST_LIMIT_MAX, type ApiKeyScope } from "@bd3-serve/shared";
import type { Env } from "../env.ts";
import { addMissingColumns } from "../storage/added-columns.ts";
import type { KeyListRequest, KeyPage, KeyRow, NewKey, RotateResult } from "./key-directory-rpc.ts";

/**
 * Every API key minted at run time, in one SQLite Durable Object (named "keys", see key-directory-stub.ts).
 * A request's key is looked up by its SHA-256 without knowing its tenant, and a revocation must be seen by
 * the next lookup: one strongly consistent object answers both (KV is eventually consistent for 60 s or more;
 * D1 would do, at the cost of a database to provision per environment). Lookups are cached per isolate for
 * KEY_CACHE_TTL_MS (key-cache.ts), so this object sees about one read per key per isolate per 30 s.
 *
 * Storage: `api_keys(seq, id, sha256, prefix, name, tenant_id, scopes, created_at, expires_at, last_used_at,
 * revoked_at, priority_max)`, times in epoch ms, `scopes` a JSON array, `priority_max` null for no ceiling
 * (added later: a directory stored before it gets the column when the object starts, its keys without a
 * ceiling); `seq` orders the list and is its cursor. Rows are never deleted (a revoked key stays listed, so
 * its id keeps meaning the same thing). The plain key never reaches this object: the edge mints it, hashes
 * it, and hands over only the hash and the visible prefix.
 */
/** last_used_at is written at most this often per key. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS api_keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  name TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER,
  priority_max INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_tenant_seq ON api_keys (tenant_id, seq);`;

/** Columns added after the table was first created, for directories that predate them. */
const ADDED_COLUMNS = { priority_max: "INTEGER" };

interface SqlRow extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  sha256: string;
  prefix: string;
  name: string;
  tenant_id: string;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  priority_max: number | null;
}

function rowOf(row: SqlRow): KeyRow {
  return {
    seq: row.seq,
    id: row.id,
    sha256: row.sha256,
    prefix: row.prefix,
    name: row.name,
    tenantId: row.tenant_id,
    scopes: JSON.parse(row.scopes) as ApiKeyScope[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    priorityMax: row.priority_max,
  };
}

export class KeyDirectory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA_SQL);
    addMissingColumns(this.sql, "api_keys", ADDED_COLUMNS);
  }

  /** The key with this SHA-256 (revoked and expired ones too: the caller decides), or null. */
  lookup(sha256: string): KeyRow | null {
    const row = this.sql.exec<SqlRow>("SELECT * FROM api_keys WHERE sha256 = ?", sha256).toArray()[0];
    return row === undefined ? null : rowOf(row);
  }

  get(id: string): KeyRow | null {
    const row = this.sql.exec<SqlRow>("SELECT * FROM api_keys WHERE id = ?", id).toArray()[0];
    return row === undefined ? null : rowOf(row);
  }

  create(key: NewKey): KeyRow {
    this.insert(key, Date.now());
    return this.get(key.id) as KeyRow;
  }

  list({ tenantId, afterSeq, limit }: KeyListRequest): KeyPage {
    const take = Math.min(Math.max(1, limit), API_KEY_LIST_LIMIT_MAX) + 1;
    const rows = (
      tenantId === null
        ? this.sql.exec<SqlRow>("SELECT * FROM api_keys WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, take)
        : this.sql.exec<SqlRow>(
            "SELECT * FROM api_keys WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            tenantId,
            afterSeq,
            take,
          )
    )
      .toArray()
      .map(rowOf);
    const page = rows.slice(0, take - 1);
    return { rows: page, nextAfterSeq: rows.length === take ? (page.at(-1)?.seq ?? null) : null };
  }

  /** Revokes a key (idempotent: a second revoke keeps the first instant); null when there is no such key. */
  revoke(id: string): KeyRow | null {
    this.sql.exec("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", Date.now(), id);
    return this.get(id);
  }

  /**
   * Mints `next` with the tenant, name, scopes and priority ceiling of `id` (and its expiry: rotation changes
   * the secret, not the policy) and ends the old key `overlapMs` from now, or sooner if it already ended
   * sooner. Atomic: both rows change in one synchronous call, so no lookup ever sees one without the other.
   */
  rotate(id: string, next: Pick<NewKey, "id" | "sha256" | "prefix">, overlapMs: number): RotateResult {
    const nowMs = Date.now();
    const old = this.get(id);
    if (old === null) return "not_found";
    if (old.revokedAt !== null) return "revoked";
    if (old.expiresAt !== null && old.expiresAt <= nowMs) return "expired";
    this.insert(
      {
        ...next,
        name: old.name,
        tenantId: old.tenantId,
        scopes: old.scopes,
        expiresAt: old.expiresAt,
        priorityMax: old.priorityMax,
      },
      nowMs,
    );
    const endsAt = Math.min(old.expiresAt ?? Number.MAX_SAFE_INTEGER, nowMs + overlapMs);
    this.sql.exec("UPDATE api_keys SET expires_at = ? WHERE id = ?", endsAt, id);
    return { created: this.get(next.id) as KeyRow, previous: this.get(id) as KeyRow };
  }

  /** Records a use; a no-op within LAST_USED_RESOLUTION_MS of the last one (whichever isolate wrote it). */
  touch(id: string, atMs: number): void {
    this.sql.exec(
      "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
      atMs,
      id,
      atMs - LAST_USED_RESOLUTION_MS,
    );
  }

  private insert(key: NewKey, nowMs: number): void {
    this.sql.exec(
      `INSERT INTO api_keys (id, sha256, prefix, name, tenant_id, scopes, created_at, expires_at, priority_max)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      key.id,
      key.sha256,
      key.prefix,
      key.name,
      key.tenantId,
      JSON.stringify(key.scopes),
      nowMs,
      key.expiresAt,
      key.priorityMax ?? null,
    );
  }
}
