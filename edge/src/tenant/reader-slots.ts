import type { SlotGrant } from "./tenant-index-rpc.ts";

/**
 * Live stream readers of one tenant, across all its jobs, kept in the tenant's Durable Object (TenantIndex).
 *
 * Storage: `reader_slots(id, job_id, expires_at)`, one row per live reader. A job object takes a slot
 * before it opens a live reader, renews its readers' slots while they stay connected, and gives a slot back
 * when its reader goes (job/live-readers.ts). A slot is a lease: one not renewed for `ttlMs` (its job object
 * crashed, was reset or lost the release call) is deleted by the next acquire, so a dead holder's slots free
 * themselves within one ttl and the count is never stuck above the truth for longer than that.
 * Trade-off: a round trip to the tenant's object per live read opened and one per job every renewal period
 * (all of a job's slots in one call), never per byte or per block.
 */
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS reader_slots (
  id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reader_slots_expiry ON reader_slots (expires_at);`;

export class TenantReaderSlots {
  private isReady = false;

  constructor(private readonly sql: SqlStorage) {}

  private ready(): void {
    if (this.isReady) return;
    this.sql.exec(SCHEMA_SQL);
    this.isReady = true;
  }

  /** A new slot for a reader of `jobId`, unless `max` live (unexpired) slots exist. */
  acquire(jobId: string, max: number, ttlMs: number, nowMs: number): SlotGrant {
    this.ready();
    this.sql.exec("DELETE FROM reader_slots WHERE expires_at <= ?", nowMs);
    const numLive = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM reader_slots").one().n;
    if (numLive >= max) return { ok: false, numLive };
    const slotId = crypto.randomUUID();
    this.sql.exec("INSERT INTO reader_slots (id, job_id, expires_at) VALUES (?, ?, ?)", slotId, jobId, nowMs + ttlMs);
    return { ok: true, slotId };
  }

  /** Pushes the expiry of the given slots to `nowMs + ttlMs` (ids that expired or were released stay gone). */
  renew(slotIds: readonly string[], ttlMs: number, nowMs: number): void {
    this.ready();
    for (const slotId of slotIds) {
      this.sql.exec("UPDATE reader_slots SET expires_at = ? WHERE id = ?", nowMs + ttlMs, slotId);
    }
  }

  release(slotId: string): void {
    this.ready();
    this.sql.exec("DELETE FROM reader_slots WHERE id = ?", slotId);
  }

  /** Live (unexpired) slots now. */
  numLive(nowMs: number): number {
    this.ready();
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM reader_slots WHERE expires_at > ?", nowMs).one().n;
  }
}
