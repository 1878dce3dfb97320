import type { JobSummary, JobView } from "@bd3-serve/shared";
import type { JobRecord } from "./job-store.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public summary (JobSummarySchema) of a stored job: everything but the text. */
export function toJobSummary(job: JobRecord): JobSummary {
  const self = `${job.baseUrl}/v1/generations/${job.id}`;
  return {
    id: job.id,
    object: "generation",
    status: job.status,
    model: job.model,
    params: job.params,
    progress: { blocks: job.numBlocks, tokens: job.numTokens },
    finish_reason: job.finishReason,
    usage: job.usage,
    error: job.error,
    metadata: job.metadata,
    is_stalled: job.isStalled,
    created_at: iso(job.createdAt) ?? "",
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    urls: {
      self,
      stream: `${self}/stream`,
      blocks: `${self}/blocks`,
      cancel: `${self}/cancel`,
      deliveries: `${self}/deliveries`,
    },
  };
}

/** The public view (JobViewSchema): the summary plus the text of every committed block. */
export function toJobView(job: JobRecord, text: string): JobView {
  const { id, object, ...rest } = toJobSummary(job);
  return { id, object, ...rest, text };
}
