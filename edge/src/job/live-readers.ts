import type { ErrorBody } from "@bd3-serve/shared";
import { READER_CAP_RETRY_AFTER_SECONDS, READER_SLOT_RENEW_MS, READER_SLOT_TTL_MS } from "../config/constants.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobBindings, JobContext, JobSideEffects } from "./job-seams.ts";
import { holdUntilBodyEnds, type ReaderSlots } from "./reader-slots.ts";

/**
 * Admission of live readers (SSE on `/stream`, SSE and long-poll on `/text`): at most
 * `streamReadersPerJobMax` per job (counted in the job's object, reader-slots.ts) and
 * `streamReadersPerTenantMax` per tenant (leases in the tenant's object, tenant/reader-slots.ts). Over either
 * cap: 429 with `Retry-After` and a code naming the cap. An SSE reader holds its slots until its body ends or
 * its client goes, however slowly it reads; a long-poll holds them while it waits (its answer is one bounded
 * page, like a catch-up read's).
 *
 * If the tenant's object cannot be reached the reader is admitted on the job cap alone (logged): the cap
 * protects the service, and an outage of the counter must not take streaming down with it.
 */

/** What admission uses of a job: the caps, the job's reader count, the tenant's binding, background work. */
export interface LiveReaderParts extends JobContext, JobBindings {
  readonly readers: Pick<ReaderSlots, "tryAcquire" | "holdTenantSlot">;
  readonly effects: Pick<JobSideEffects, "inBackground">;
}

function tooManyReaders(code: string, message: string): Response {
  const body: ErrorBody = { error: { type: "rate_limit_error", code, message } };
  return Response.json(body, { status: 429, headers: { "Retry-After": String(READER_CAP_RETRY_AFTER_SECONDS) } });
}

/** Whether a request to the object's fetch is a live read. */
export function isLiveRead(url: URL): boolean {
  if (url.pathname === "/stream") return true;
  const live = url.searchParams.get("live");
  return url.pathname === "/text" && (live === "sse" || live === "long-poll");
}

/** Serves `read` as a live reader under both caps, or answers 429 without running it. */
export async function serveLiveReader(
  parts: LiveReaderParts,
  job: JobRecord,
  read: () => Promise<Response>,
  signal: AbortSignal,
): Promise<Response> {
  const { streamReadersPerJobMax, streamReadersPerTenantMax } = parts.config;
  const releaseJobSlot = parts.readers.tryAcquire(streamReadersPerJobMax);
  if (releaseJobSlot === null) {
    return tooManyReaders(
      "too_many_readers_per_job",
      `at most ${streamReadersPerJobMax} live readers per generation (STREAM_READERS_PER_JOB_MAX)`,
    );
  }
  const tenant = tenantIndexStub(parts.env, job.tenantId);
  let slotId: string | null = null;
  try {
    const grant = await tenant.acquireReader(job.id, streamReadersPerTenantMax, READER_SLOT_TTL_MS);
    if (!grant.ok) {
      releaseJobSlot();
      return tooManyReaders(
        "too_many_readers_per_tenant",
        `at most ${streamReadersPerTenantMax} live readers per tenant (STREAM_READERS_PER_TENANT_MAX)`,
      );
    }
    slotId = grant.slotId;
  } catch (error) {
    console.warn(JSON.stringify({ event: "reader_slots_unavailable", job_id: job.id, error: String(error) }));
  }
  const heldSlotId = slotId;
  const stopRenewing =
    heldSlotId === null
      ? () => {}
      : parts.readers.holdTenantSlot(
          heldSlotId,
          (slotIds) => parts.effects.inBackground(tenant.renewReaders(slotIds, READER_SLOT_TTL_MS)),
          READER_SLOT_RENEW_MS,
        );
  let isReleased = false;
  const release = () => {
    if (isReleased) return;
    isReleased = true;
    releaseJobSlot();
    stopRenewing();
    if (heldSlotId !== null) parts.effects.inBackground(tenant.releaseReader(heldSlotId));
  };
  try {
    const response = await read();
    if (!response.headers.get("Content-Type")?.startsWith("text/event-stream")) {
      release();
      return response;
    }
    return holdUntilBodyEnds(response, release, signal);
  } catch (error) {
    release();
    throw error;
  }
}
