import { ALARM_TASK_RETRY_MS } from "../config/constants.ts";
import type { QueuePlace } from "../queue/queue-ledger.ts";
import { queueLedgerStub } from "../queue/queue-ledger-stub.ts";
import { type JobCore, TASK } from "./job-core.ts";
import { jobPriority } from "./job-message.ts";
import type { JobRecord } from "./job-store.ts";

/** A queued job's place as its view shows it (JobViewSchema `queue_position`, `estimated_start_at`). */
export interface ViewPlace {
  queuePosition: number | null;
  estimatedStartAtMs: number | null;
}

export const NO_PLACE: ViewPlace = { queuePosition: null, estimatedStartAtMs: null };

/** A place read from the ledger is reused this long by the job's views, so a tight poll loop costs one call. */
export const QUEUE_PLACE_CACHE_MS = 1_000;

function ledgerOf(core: JobCore, job: JobRecord) {
  return queueLedgerStub(core.env, job.model, jobPriority(job));
}

/**
 * The `ledger` task (its schedule row is the durable intent, retried by the alarm): a new queued job takes
 * its ticket in the ledger of its (model, priority) queue; a job that left the queue (leased, or ended while
 * queued) settles it. Runs after the create answered (like the tenant index sync), never on its path.
 */
export async function syncLedger(core: JobCore, job: JobRecord | null = core.readJob()): Promise<void> {
  const ledger = job === null ? null : ledgerOf(core, job);
  if (job === null || ledger === null) {
    core.schedule.clear(TASK.ledger);
    return;
  }
  try {
    let ticket = job.queueTicket;
    if (ticket === null) {
      if (job.status !== "queued" || job.startedAt !== null) {
        core.schedule.clear(TASK.ledger);
        return;
      }
      const startByMs = job.startByAt ?? job.createdAt + core.config.queueDeadlineMs;
      ticket = (await ledger.take({ jobId: job.id, startByMs })).ticket;
      core.store.update({ queueTicket: ticket });
    }
    // Re-read: the job may have been leased or ended while the take was in flight.
    const current = core.readJob();
    if (current !== null && current.status !== "queued") {
      await ledger.settle({ ticket, isStarted: current.startedAt !== null });
    }
    core.schedule.clear(TASK.ledger);
  } catch (error) {
    console.warn(JSON.stringify({ event: "ledger_sync_failed", job_id: job.id, error: String(error) }));
    core.schedule.set(TASK.ledger, core.now() + ALARM_TASK_RETRY_MS);
  }
}

const placeCache = new WeakMap<JobCore, { ticket: number; atMs: number; place: QueuePlace | null }>();

/**
 * Where a queued job stands: one ledger call (cached QUEUE_PLACE_CACHE_MS); nulls once it left the queue,
 * before its ticket was taken, or when the ledger cannot be reached (the view never fails for it).
 */
export async function queuePlaceOf(core: JobCore, job: JobRecord): Promise<ViewPlace> {
  const ticket = job.queueTicket;
  const ledger = ticket === null || job.status !== "queued" ? null : ledgerOf(core, job);
  if (ticket === null || ledger === null) return NO_PLACE;
  const now = core.now();
  let cached = placeCache.get(core);
  if (cached === undefined || cached.ticket !== ticket || now - cached.atMs > QUEUE_PLACE_CACHE_MS) {
    try {
      cached = { ticket, atMs: now, place: await ledger.place(ticket) };
      placeCache.set(core, cached);
    } catch (error) {
      console.warn(JSON.stringify({ event: "queue_place_failed", job_id: job.id, error: String(error) }));
      return NO_PLACE;
    }
  }
  const place = cached.place;
  return place === null ? NO_PLACE : { queuePosition: place.position, estimatedStartAtMs: place.estimatedStartAtMs };
}
