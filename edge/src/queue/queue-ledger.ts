import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import type { QueuePlace, SettleRequest, TakenTicket, TakeRequest } from "./queue-ledger-rpc.ts";

/** Weight of the newest sample in the moving average of the time between starts. */
export const START_INTERVAL_EWMA_WEIGHT = 0.2;
/**
 * A waiting ticket whose job's start deadline passed this long ago is dropped: the job expired or started
 * and its report was lost (the job object retries reports, but a job deleted by retention never sends one).
 */
export const STALE_TICKET_GRACE_MS = 60_000;
/** Stale tickets dropped per call at most (the rest go at the next calls). */
const STALE_TICKETS_PER_CALL = 50;

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS ledger (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  next_ticket INTEGER NOT NULL,
  last_start_at_ms INTEGER,
  start_interval_ms REAL
);
INSERT OR IGNORE INTO ledger (id, next_ticket) VALUES (0, 1);
CREATE TABLE IF NOT EXISTS waiting (
  ticket INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL UNIQUE,
  taken_at_ms INTEGER NOT NULL,
  start_by_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS waiting_start_by ON waiting (start_by_ms);
CREATE TABLE IF NOT EXISTS settled_ahead (ticket INTEGER PRIMARY KEY);`;

type LedgerRow = {
  next_ticket: number;
  last_start_at_ms: number | null;
  start_interval_ms: number | null;
};

/**
 * The queue ledger of one (model, priority) queue: a ticket per job in creation order, so a queued job's view
 * can say how many jobs are ahead of it (`queue_position`) and when it should start (`estimated_start_at`)
 * without looking at any other job. Named `<model>:<priority>` (queue-ledger-stub.ts).
 *
 * State (SQLite): `ledger` (the next ticket, the last start and the moving average of the time between
 * starts), `waiting` (the tickets not yet started or ended, by ticket and by job), `settled_ahead` (tickets
 * settled while a lower ticket still waits: the out-of-order ones). Every issued ticket below `next_ticket` is
 * either waiting, or settled; those settled above the lowest waiting ticket `low` are in `settled_ahead`, so
 *   position(t) = (t - low) - |settled_ahead below t|
 * costs two index lookups and a count over the out-of-order settles below t (jobs canceled or started early:
 * few, since SQS standard queues are nearly FIFO), never a scan of the waiting jobs. `settled_ahead` is
 * pruned as `low` moves up, so storage stays proportional to the jobs waiting.
 *
 * Lifecycle: a job object takes its ticket after its create answered (idempotent per job id: a retried take
 * returns the same ticket) and settles it when the job leaves the queue (leased, or ended while queued);
 * both are durable schedule rows on the job's side, retried by its alarm. Tickets of jobs past their start
 * deadline are dropped here, so a lost report never holds the queue's positions up for good.
 */
export class QueueLedger extends DurableObject<Env> {
  /** Test seam: the ledger's clock, epoch milliseconds. */
  clock: () => number = Date.now;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA_SQL);
  }

  /** The job's ticket (the one it already holds on a retry) and its place. */
  take(request: TakeRequest): TakenTicket {
    const now = this.clock();
    this.dropStale(now);
    const sql = this.ctx.storage.sql;
    const held = sql
      .exec<{ ticket: number }>("SELECT ticket FROM waiting WHERE job_id = ?", request.jobId)
      .toArray()[0];
    let ticket = held?.ticket;
    if (ticket === undefined) {
      ticket = this.row().next_ticket;
      sql.exec("UPDATE ledger SET next_ticket = ? WHERE id = 0", ticket + 1);
      sql.exec(
        "INSERT INTO waiting (ticket, job_id, taken_at_ms, start_by_ms) VALUES (?, ?, ?, ?)",
        ticket,
        request.jobId,
        now,
        Math.round(request.startByMs),
      );
    }
    return { ticket, ...(this.placeAt(ticket, now) ?? { position: 0, estimatedStartAtMs: null }) };
  }

  /** Where a ticket stands; null once it was settled (started, ended, or dropped as stale). */
  place(ticket: number): QueuePlace | null {
    const now = this.clock();
    this.dropStale(now);
    return this.placeAt(ticket, now);
  }

  /**
   * The ticket's job left the queue: `isStarted` when a worker leased it (a start, counted in the start rate),
   * false when it ended while queued. Idempotent: a ticket no longer waiting is ignored.
   */
  settle(request: SettleRequest): void {
    this.settleAt(request.ticket, request.isStarted, this.clock());
  }

  /** The tickets waiting (tests and operators). */
  waitingCount(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM waiting").one().n;
  }

  private row(): LedgerRow {
    return this.ctx.storage.sql
      .exec<LedgerRow>("SELECT next_ticket, last_start_at_ms, start_interval_ms FROM ledger WHERE id = 0")
      .one();
  }

  /** The lowest waiting ticket, or the next ticket when none waits. */
  private low(): number {
    const row = this.ctx.storage.sql.exec<{ low: number | null }>("SELECT MIN(ticket) AS low FROM waiting").one();
    return row.low ?? this.row().next_ticket;
  }

  private placeAt(ticket: number, now: number): QueuePlace | null {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM waiting WHERE ticket = ?", ticket).toArray().length === 0) return null;
    const settledBelow = sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM settled_ahead WHERE ticket < ?", ticket)
      .one().n;
    const position = Math.max(0, ticket - this.low() - settledBelow);
    const { last_start_at_ms: lastStartAtMs, start_interval_ms: intervalMs } = this.row();
    const estimatedStartAtMs =
      intervalMs === null ? null : Math.round(Math.max(now, (lastStartAtMs ?? now) + (position + 1) * intervalMs));
    return { position, estimatedStartAtMs };
  }

  private settleAt(ticket: number, isStarted: boolean, now: number): void {
    const sql = this.ctx.storage.sql;
    const waiting = sql
      .exec<{ taken_at_ms: number }>("SELECT taken_at_ms FROM waiting WHERE ticket = ?", ticket)
      .toArray()[0];
    if (waiting === undefined) return;
    sql.exec("DELETE FROM waiting WHERE ticket = ?", ticket);
    if (isStarted) {
      const { last_start_at_ms: lastStartAtMs, start_interval_ms: intervalMs } = this.row();
      // The time this start took since the job could first have started: since the previous start, or since
      // it was created when the queue had nothing to start before it (an idle queue adds no idle time).
      const sampleMs = Math.max(0, now - Math.max(lastStartAtMs ?? waiting.taken_at_ms, waiting.taken_at_ms));
      const next = intervalMs === null ? sampleMs : intervalMs + START_INTERVAL_EWMA_WEIGHT * (sampleMs - intervalMs);
      sql.exec("UPDATE ledger SET last_start_at_ms = ?, start_interval_ms = ? WHERE id = 0", now, next);
    }
    const low = this.low();
    if (ticket > low) sql.exec("INSERT OR IGNORE INTO settled_ahead (ticket) VALUES (?)", ticket);
    else sql.exec("DELETE FROM settled_ahead WHERE ticket < ?", low);
  }

  private dropStale(now: number): void {
    const stale = this.ctx.storage.sql
      .exec<{ ticket: number }>(
        "SELECT ticket FROM waiting WHERE start_by_ms < ? ORDER BY start_by_ms LIMIT ?",
        now - STALE_TICKET_GRACE_MS,
        STALE_TICKETS_PER_CALL,
      )
      .toArray();
    for (const { ticket } of stale) this.settleAt(ticket, false, now);
  }
}
