import { INLINE_TEXT_MAX_BYTES, type JobSummary, type JobView, type WebhookStatus } from "@bd3-serve/shared";
import type { EdgeConfig } from "../config/config.ts";
import { jobPriority } from "./job-message.ts";
import type { JobRecord } from "./job-record.ts";
import type { ViewSources } from "./job-seams.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const DAY_MS = 86_400_000;

/** A queued job's place as its view shows it (JobViewSchema `queue_position`, `estimated_start_at`). */
export interface ViewPlace {
  queuePosition: number | null;
  estimatedStartAtMs: number | null;
}

export const NO_PLACE: ViewPlace = { queuePosition: null, estimatedStartAtMs: null };

/** What a view needs beyond the job row: the document's size and the retention in force. */
export interface ViewFacts {
  textBytes: number;
  retentionMs: number;
  /** Where the webhook's deliveries stand (webhooks/outbox.ts); null without a webhook. */
  webhookStatus: WebhookStatus | null;
  /** The start deadline in force (the job's own, or created-at + the queue deadline for older objects). */
  startByAt: number;
}

/** The public summary (JobSummarySchema) of a stored job: everything but the text. */
export function toJobSummary(job: JobRecord, facts: ViewFacts): JobSummary {
  const self = `${job.baseUrl}/v1/generations/${job.id}`;
  return {
    id: job.id,
    object: "generation",
    status: job.status,
    model: job.model,
    params: job.params,
    progress: { blocks: job.numBlocks, tokens: job.numTokens, text_bytes: facts.textBytes },
    finish_reason: job.finishReason,
    usage: job.usage,
    error: job.error,
    metadata: job.metadata,
    is_stalled: job.isStalled,
    request_id: job.requestId,
    start_by: iso(facts.startByAt) ?? "",
    timeout_seconds: job.timeoutMs === null ? null : Math.round(job.timeoutMs / 1_000),
    webhook_status: facts.webhookStatus,
    priority: jobPriority(job),
    // A list row costs no ledger call: the place is in one job's view only (toJobView).
    queue_position: null,
    estimated_start_at: null,
    retention_days: Math.max(1, Math.round(facts.retentionMs / DAY_MS)),
    created_at: iso(job.createdAt) ?? "",
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    urls: {
      self,
      stream: `${self}/stream`,
      blocks: `${self}/blocks`,
      cancel: `${self}/cancel`,
      deliveries: `${self}/deliveries`,
      text: `${self}/text`,
    },
  };
}

/**
 * The public view (JobViewSchema): the summary plus the text (null when it is too long to inline) and, while
 * queued, the job's place in its queue.
 */
export function toJobView(job: JobRecord, facts: ViewFacts, text: string | null, place: ViewPlace): JobView {
  const { id, object, ...rest } = toJobSummary(job, facts);
  const isQueued = job.status === "queued";
  return {
    id,
    object,
    ...rest,
    text,
    // Only a queued job has a place; a view of any other status shows none whatever the ledger said.
    queue_position: isQueued ? place.queuePosition : null,
    estimated_start_at: isQueued ? iso(place.estimatedStartAtMs) : null,
  };
}

/** How long after finishing the job's text is kept: its own `retention_days`, or the edge's default. */
export function retentionMsOf(job: JobRecord, config: EdgeConfig): number {
  return job.retentionMs ?? config.retentionMs;
}

export function viewFacts(sources: ViewSources, job: JobRecord): ViewFacts {
  return {
    textBytes: sources.document.byteLength(),
    retentionMs: retentionMsOf(job, sources.config),
    webhookStatus: job.webhook === null ? null : sources.outbox.status(),
    startByAt: job.startByAt ?? job.createdAt + sources.config.queueDeadlineMs,
  };
}

export function summaryOf(sources: ViewSources, job: JobRecord): JobSummary {
  return toJobSummary(job, viewFacts(sources, job));
}

/**
 * The view, text inline when it is at most INLINE_TEXT_MAX_BYTES (null beyond: read `urls.text`); `place`
 * is a queued job's place in its queue (queue-place.ts `queuePlaceOf`), none by default.
 */
export function viewOf(sources: ViewSources, job: JobRecord, place: ViewPlace = NO_PLACE): JobView {
  const facts = viewFacts(sources, job);
  const text = facts.textBytes <= INLINE_TEXT_MAX_BYTES ? sources.document.text(0, facts.textBytes) : null;
  return toJobView(job, facts, text, place);
}
