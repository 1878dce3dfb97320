import { type CompletionRequest, type CreateGenerationRequest, CreateGenerationRequestSchema } from "@bd3-serve/shared";
import { invalidRequest } from "../../errors/api-error.ts";
import { parseWith } from "../../http/parse-body.ts";

/**
 * An OpenAI Completions request as a create body: prompt, model, max_tokens, temperature, top_p, seed and stop
 * map one to one; a field that cannot map is a 400 naming it unless it carries OpenAI's neutral value (so a
 * client that sends `n: 1` or `echo: false` explicitly still works).
 */

/** Fields with no meaning here, and the values that mean "not used". */
const NEUTRAL_VALUES: Record<string, (value: unknown) => boolean> = {
  n: (value) => value === 1,
  best_of: (value) => value === 1,
  logprobs: (value) => value === 0 || value === false,
  echo: (value) => value === false,
  suffix: (value) => value === "",
  presence_penalty: (value) => value === 0,
  frequency_penalty: (value) => value === 0,
  logit_bias: (value) => typeof value === "object" && value !== null && Object.keys(value).length === 0,
};

const WHY_UNSUPPORTED: Record<string, string> = {
  n: "one choice per request (create several generations instead)",
  best_of: "one choice per request",
  logprobs: "log-probabilities are not produced by the block sampler",
  echo: "the prompt is not echoed",
  suffix: "insertion (suffix) is not supported",
  presence_penalty: "penalties are not supported",
  frequency_penalty: "penalties are not supported",
  logit_bias: "logit bias is not supported",
};

export function createBodyOf(request: CompletionRequest): CreateGenerationRequest {
  for (const [field, isNeutral] of Object.entries(NEUTRAL_VALUES)) {
    const value = request[field as keyof CompletionRequest];
    if (value !== undefined && value !== null && !isNeutral(value)) {
      throw invalidRequest(`${field} is not supported: ${WHY_UNSUPPORTED[field]}`, field);
    }
  }
  let prompt: string;
  if (typeof request.prompt === "string") prompt = request.prompt;
  else if (request.prompt.length === 1 && typeof request.prompt[0] === "string") prompt = request.prompt[0];
  else throw invalidRequest("prompt must be a string (or an array of exactly one string; no token arrays)", "prompt");
  const stop = request.stop === undefined || request.stop === null ? [] : [request.stop].flat();
  const body: Record<string, unknown> = { prompt, model: request.model, stop };
  if (request.max_tokens !== null) body.max_tokens = request.max_tokens;
  if (request.temperature !== undefined && request.temperature !== null) body.temperature = request.temperature;
  if (request.top_p !== undefined && request.top_p !== null) body.top_p = request.top_p;
  if (request.seed !== undefined && request.seed !== null) body.seed = request.seed;
  // The create schema checks ranges; its issues name the same fields the caller sent.
  return parseWith(CreateGenerationRequestSchema, body);
}
