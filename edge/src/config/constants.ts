/**
 * Edge limits and timings that are not part of the shared contract. Each name carries its unit; the ones an
 * operator may change have a var in wrangler.toml (see config/config.ts), the rest are fixed by design.
 */

/** No heartbeat for this long marks a running job `is_stalled` (a worker heartbeats every ~30 s). */
export const STALL_TIMEOUT_SECONDS_DEFAULT = 120;
/** A job still queued (or stalled) this long after creation expires: no worker will take it any more. */
export const QUEUE_DEADLINE_SECONDS_DEFAULT = 86_400;
/**
 * A job's worker capability expires this long after the job's queue deadline: the latest a job can start is
 * its deadline, and 48 h covers the longest document (2^20 tokens) on a slow worker several times over.
 */
export const CAPABILITY_RUN_ALLOWANCE_MS = 48 * 3_600_000;
/** After a cancel of a running job, the worker has this long to stop before the edge cancels it alone. */
export const CANCEL_GRACE_SECONDS_DEFAULT = 60;
/** A finished job's text (document, blocks, webhook bodies) is deleted this long after it finished. */
export const RETENTION_DAYS_DEFAULT = 30;
/** After its text was deleted, a job answers 410 for this long, then its object is deleted (404). */
export const TOMBSTONE_MS = 30 * 86_400_000;
/** SSE comment interval, so proxies keep an idle stream open (most cut at 60-100 s). */
export const SSE_KEEPALIVE_SECONDS_DEFAULT = 15;
/**
 * SSE block events: one pull of a reader sends at most this many blocks, and stops adding blocks once about
 * SSE_PULL_MAX_BYTES of frames are ready, so a reader is paced page by page and a paused one holds ~one page.
 */
export const SSE_BLOCKS_PER_PULL = 64;
export const SSE_PULL_MAX_BYTES = 64 * 1024;
/**
 * Live stream readers (SSE on /stream, SSE and long-poll on /text) allowed at once per job and per tenant
 * (STREAM_READERS_PER_JOB_MAX / STREAM_READERS_PER_TENANT_MAX). A reader costs the job's object one ~64 KiB
 * page at most, so 32 per job keep a 128 MB object far from its limit with room for the worker's writes;
 * 256 per tenant bound what one tenant can hold open across its jobs.
 */
export const STREAM_READERS_PER_JOB_MAX_DEFAULT = 32;
export const STREAM_READERS_PER_TENANT_MAX_DEFAULT = 256;
/**
 * A tenant's reader slot is a lease: the job object renews its readers' slots every
 * READER_SLOT_RENEW_MS while they stay connected, and a slot not renewed for READER_SLOT_TTL_MS (three
 * missed renewals: the job object crashed or was reset) frees itself.
 */
export const READER_SLOT_RENEW_MS = 30_000;
export const READER_SLOT_TTL_MS = 90_000;
/** `Retry-After` of a refused live reader: SSE connections end within a minute and long-polls sooner. */
export const READER_CAP_RETRY_AFTER_SECONDS = 5;
/** Upper bound of `Prefer: wait=N`, in seconds (a Worker request should not be held for minutes). */
export const PREFER_WAIT_MAX_SECONDS = 60;
/** Request body limits in bytes: JSON escaping can make a 32 KiB prompt six times larger on the wire. */
export const PUBLIC_BODY_MAX_BYTES = 256 * 1024;
export const WORKER_BODY_MAX_BYTES = 512 * 1024;
/** A block-stream append: up to BLOCK_STREAM_BATCH_MAX_BLOCKS blocks of BLOCK_TEXT_MAX_BYTES, plus ids. */
export const WORKER_BLOCK_STREAM_BODY_MAX_BYTES = 8 * 1024 * 1024;
/**
 * Largest webhook body the outbox stores (one SQLite row; Durable Objects cap a row at 2 MB). A terminal
 * event whose inline text would make it larger is sent without the text (receivers read `urls.text`).
 */
export const WEBHOOK_BODY_MAX_BYTES = 1536 * 1024;
/** One webhook attempt is abandoned after this long (Standard Webhooks receivers must answer quickly). */
export const WEBHOOK_TIMEOUT_MS = 15_000;
/** A `Retry-After` from a webhook receiver is honoured up to this long, in seconds. */
export const WEBHOOK_RETRY_AFTER_MAX_SECONDS = 86_400;
/** How many due webhook deliveries one alarm run attempts before it re-arms for the rest. */
export const WEBHOOK_DELIVERIES_PER_ALARM = 10;
/** Waits before each retry of a failed SQS enqueue; after the last one the job fails (`enqueue_failed`). */
export const ENQUEUE_RETRY_DELAYS_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000, 600_000];
/** How long one SQS SendMessage may take before it counts as failed. */
export const ENQUEUE_TIMEOUT_MS = 10_000;
/** A task of the alarm that threw is tried again after this long. */
export const ALARM_TASK_RETRY_MS = 60_000;
/** Retryable worker failures (`is_retryable`) allowed before the job fails for good. */
export const RETRYABLE_FAILURES_MAX = 5;
/** In-isolate rate limit used only when the RATE_LIMITER binding is missing, per key per minute. */
export const RATE_LIMIT_FALLBACK_PER_MINUTE_DEFAULT = 600;
