import type { JobSummary, JobView, WebhookStatus } from "@bd3-serve/shared";
import { jobPriority } from "./job-message.ts";
import type { JobRecord } from "./job-store.ts";
import type { ViewPlace } from "./queue-place.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const DAY_MS = 86_400_000;

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
