import { z } from "zod";
import { MAX_TOKENS_MAX, MAX_TOKENS_MIN } from "../limits.ts";

/**
 * The OpenAI-compatible surface (`GET /v1/models`, `POST /v1/completions`): the legacy Completions shapes, so
 * the official `openai` client (and anything built for it) talks to this API. Every field OpenAI defines is
 * listed, so none is silently ignored: those that map become a normal job's options, those that cannot
 * (several choices, log-probabilities, echo, penalties, ...) are accepted by the schema only to be refused by
 * the edge with a 400 naming them, unless they carry their neutral value.
 */

/** OpenAI's default for `max_tokens` on the Completions API. */
export const COMPLETION_MAX_TOKENS_DEFAULT = 16;

const StopSchema = z.union([z.string(), z.array(z.string())]).nullable();

export const CompletionRequestSchema = z.strictObject({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.unknown())]),
  max_tokens: z.int().min(MAX_TOKENS_MIN).max(MAX_TOKENS_MAX).nullable().default(COMPLETION_MAX_TOKENS_DEFAULT),
  temperature: z.number().nullable().optional(),
  top_p: z.number().nullable().optional(),
  seed: z.int().nullable().optional(),
  stop: StopSchema.optional(),
  stream: z.boolean().nullable().default(false),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  /** Accepted and not stored (the job has no end-user field). */
  user: z.string().max(256).optional(),
  // Fields with no mapping: refused unless neutral (see the edge's routes/openai/completion-request.ts).
  n: z.unknown().optional(),
  best_of: z.unknown().optional(),
  logprobs: z.unknown().optional(),
  echo: z.unknown().optional(),
  suffix: z.unknown().optional(),
  presence_penalty: z.unknown().optional(),
  frequency_penalty: z.unknown().optional(),
  logit_bias: z.unknown().optional(),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** OpenAI's finish reasons; the job's own reason is kept beside it in `bd3_finish_reason`. */
export const CompletionFinishReasonSchema = z.enum(["stop", "length"]);

export const CompletionUsageSchema = z.strictObject({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
});

export const CompletionChoiceSchema = z.strictObject({
  text: z.string(),
  index: z.literal(0),
  logprobs: z.null(),
  finish_reason: CompletionFinishReasonSchema.nullable(),
  bd3_finish_reason: z.string().nullable().optional(),
});

/** The answer of a non-streaming completion; `id` is the generation's id (GET /v1/generations/:id). */
export const CompletionSchema = z.strictObject({
  id: z.string(),
  object: z.literal("text_completion"),
  created: z.int(),
  model: z.string(),
  choices: z.array(CompletionChoiceSchema),
  usage: CompletionUsageSchema.nullable(),
});
export type Completion = z.infer<typeof CompletionSchema>;

/** One `data:` chunk of a streaming completion: one per block, then the final one(s). */
export const CompletionChunkSchema = CompletionSchema.extend({
  usage: CompletionUsageSchema.nullable().optional(),
});
export type CompletionChunk = z.infer<typeof CompletionChunkSchema>;

export const ModelSchema = z.strictObject({
  id: z.string(),
  object: z.literal("model"),
  created: z.int(),
  owned_by: z.string(),
  /** Tokens per block (the unit the stream delivers); null when the edge does not know it. */
  block_size: z.int().min(1).nullable(),
  /** Tokens the model attends to (its context window; documents may be longer); null when unknown. */
  context_length: z.int().min(1).nullable(),
});

export const ModelListSchema = z.strictObject({
  object: z.literal("list"),
  data: z.array(ModelSchema),
});
export type ModelList = z.infer<typeof ModelListSchema>;
