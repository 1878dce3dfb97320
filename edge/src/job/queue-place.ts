import type { QueuePlace } from "../queue/queue-ledger-rpc.ts";
import { queueLedgerStub } from "../queue/queue-ledger-stub.ts";
import { jobPriority } from "./job-message.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobBindings, JobContext } from "./job-seams.ts";
import { NO_PLACE, type ViewPlace } from "./job-view.ts";

/** A place read from the ledger is reused this long by the job's views, so a tight poll loop costs one call. */
export const QUEUE_PLACE_CACHE_MS = 1_000;

/** What a place lookup uses of a job: its clock and the ledger's binding. */
export interface QueuePlaceParts extends Pick<JobContext, "now">, JobBindings {}

/**
 * The last place read per job object, in memory on purpose: it is a cache of another object's answer, and
 * a WeakMap entry goes with its object.
 */
const placeCache = new WeakMap<QueuePlaceParts, { ticket: number; atMs: number; place: QueuePlace | null }>();

/**
 * Where a queued job stands: one ledger call (cached QUEUE_PLACE_CACHE_MS); nulls once it left the queue,
 * before its ticket was taken, or when the ledger cannot be reached (the view never fails for it).
 */
export async function queuePlaceOf(parts: QueuePlaceParts, job: JobRecord): Promise<ViewPlace> {
  const ticket = job.queueTicket;
  const ledger =
    ticket === null || job.status !== "queued" ? null : queueLedgerStub(parts.env, job.model, jobPriority(job));
  if (ticket === null || ledger === null) return NO_PLACE;
  const now = parts.now();
  let cached = placeCache.get(parts);
  if (cached === undefined || cached.ticket !== ticket || now - cached.atMs > QUEUE_PLACE_CACHE_MS) {
    try {
      cached = { ticket, atMs: now, place: await ledger.place(ticket) };
      placeCache.set(parts, cached);
    } catch (error) {
      console.warn(JSON.stringify({ event: "queue_place_failed", job_id: job.id, error: String(error) }));
      return NO_PLACE;
    }
  }
  const place = cached.place;
  return place === null ? NO_PLACE : { queuePosition: place.position, estimatedStartAtMs: place.estimatedStartAtMs };
}
