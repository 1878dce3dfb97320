import { z } from "zod";
import {
  BLOCK_SIZE_MAX,
  CONFIDENCE_THRESHOLD_DEFAULT,
  MAX_TOKENS_DEFAULT,
  MAX_TOKENS_MAX,
  MAX_TOKENS_MIN,
  PROMPT_MAX_BYTES,
  SEED_MAX,
  STOP_SEQUENCE_MAX_BYTES,
  STOP_SEQUENCES_MAX_COUNT,
  TEMPERATURE_DEFAULT,
  TEMPERATURE_MAX,
  TEMPERATURE_MIN,
  TOP_P_DEFAULT,
} from "../limits.ts";
import { utf8ByteLength } from "../utf8.ts";

/**
 * How positions of a block are revealed:
 * - `first_hitting`: the paper's sampler, one uniformly chosen masked position per step (block size steps);
 * - `ddpm`: `steps_per_block` steps, each revealing the masked positions whose reveal time has come;
 * - `confidence`: reveal the most confident positions (all above `confidence_threshold`, at least one).
 */
export const SamplingStrategySchema = z.enum(["first_hitting", "ddpm", "confidence"]);
export type SamplingStrategy = z.infer<typeof SamplingStrategySchema>;

export const PromptSchema = z
  .string()
  .refine((prompt) => prompt.trim().length > 0, { message: "prompt must contain a non-whitespace character" })
  .refine((prompt) => utf8ByteLength(prompt) <= PROMPT_MAX_BYTES, {
    message: `prompt must be at most ${PROMPT_MAX_BYTES} UTF-8 bytes`,
  });

export const StopSequenceSchema = z
  .string()
  .min(1, { message: "a stop sequence must not be empty" })
  .refine((stop) => utf8ByteLength(stop) <= STOP_SEQUENCE_MAX_BYTES, {
    message: `a stop sequence must be at most ${STOP_SEQUENCE_MAX_BYTES} UTF-8 bytes`,
  });

/** The sampling options of a job, with defaults applied; carried unchanged from the API to the worker. */
export const SamplingParamsSchema = z.strictObject({
  max_tokens: z.int().min(MAX_TOKENS_MIN).max(MAX_TOKENS_MAX).default(MAX_TOKENS_DEFAULT),
  temperature: z.number().min(TEMPERATURE_MIN).max(TEMPERATURE_MAX).default(TEMPERATURE_DEFAULT),
  top_p: z.number().gt(0).max(1).default(TOP_P_DEFAULT),
  strategy: SamplingStrategySchema.default("first_hitting"),
  /** Denoising steps per block; omitted means one step per position (the block size). */
  steps_per_block: z.int().min(1).max(BLOCK_SIZE_MAX).optional(),
  confidence_threshold: z.number().gt(0).max(1).default(CONFIDENCE_THRESHOLD_DEFAULT),
  seed: z.int().min(0).max(SEED_MAX).optional(),
  stop: z.array(StopSequenceSchema).max(STOP_SEQUENCES_MAX_COUNT).default([]),
});
export type SamplingParams = z.infer<typeof SamplingParamsSchema>;
