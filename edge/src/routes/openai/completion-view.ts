import type { Completion, CompletionChunk, FinishReason, JobSummary, JobView } from "@bd3-serve/shared";

/**
 * A job in OpenAI's Completions shapes. The completion's `id` is the generation's id, so a caller can follow,
 * resume or cancel it with the generations API. OpenAI knows two finish reasons: the job's own is kept in
 * `bd3_finish_reason` (eos, stop_sequence, max_tokens, repetition, canceled).
 */

export function openAiFinishReason(reason: FinishReason | null): "stop" | "length" | null {
  if (reason === null) return null;
  return reason === "max_tokens" ? "length" : "stop";
}

export function createdSeconds(job: { created_at: string }): number {
  return Math.floor(Date.parse(job.created_at) / 1_000);
}

export function usageOf(job: JobView | JobSummary) {
  if (job.usage === null) return null;
  const { prompt_tokens: promptTokens, completion_tokens: completionTokens } = job.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

export function completionOf(job: JobView, text: string): Completion {
  return {
    id: job.id,
    object: "text_completion",
    created: createdSeconds(job),
    model: job.model,
    choices: [
      {
        text,
        index: 0,
        logprobs: null,
        finish_reason: openAiFinishReason(job.finish_reason),
        bd3_finish_reason: job.finish_reason,
      },
    ],
    usage: usageOf(job),
  };
}

/** One streamed chunk: a block's text (finish_reason null) or the last chunk (its reason, empty text). */
export function chunkOf(
  job: { id: string; model: string; created: number },
  text: string,
  finishReason: FinishReason | null,
): CompletionChunk {
  return {
    id: job.id,
    object: "text_completion",
    created: job.created,
    model: job.model,
    choices: [
      {
        text,
        index: 0,
        logprobs: null,
        finish_reason: openAiFinishReason(finishReason),
        ...(finishReason === null ? {} : { bd3_finish_reason: finishReason }),
      },
    ],
  };
}
