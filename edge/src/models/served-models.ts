import { BLOCK_SIZE_MAX, ModelNameSchema } from "@bd3-serve/shared";
import { invalidRequest } from "../errors/api-error.ts";

/**
 * The models this edge serves, from the `MODELS` var: `name:block_size[:context_length]` entries,
 * comma-separated (`kjv-bd3lm-b16:16:256,tiny-random-b4:4`), the block size and context length in tokens as the
 * model package's manifest says (the context is optional, so `name:block_size` stays valid). The one list the
 * create path checks against, `GET /v1/models` serves and SQS_QUEUES must cover (config/sqs-queues.ts). Empty:
 * any model slug is accepted and its block size is unknown, so only the schema's BLOCK_SIZE_MAX bounds
 * `steps_per_block`.
 */
export interface ServedModel {
  name: string;
  /** Tokens per block: `steps_per_block` may not exceed it (more steps than positions only burn forwards). */
  blockSizeTokens: number;
  /** The model's context window in tokens (the manifest's context_length); null when MODELS does not say. */
  contextLengthTokens: number | null;
}

/** The largest context length MODELS may name, in tokens (a sanity bound, not a model limit). */
const CONTEXT_LENGTH_MAX_TOKENS = 1_048_576;
const ENTRY = /^([^:\s]+):(\d{1,4})(?::(\d{1,7}))?$/;

/** Parses `MODELS`; a bad entry is named in `problems` (the edge then fails closed, see config.ts). */
export function parseServedModels(raw: string | undefined, problems: string[]): ServedModel[] {
  const models: ServedModel[] = [];
  for (const entry of (raw ?? "").split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    const match = ENTRY.exec(entry);
    const blockSizeTokens = Number(match?.[2]);
    const contextLengthTokens = match?.[3] === undefined ? null : Number(match[3]);
    if (!match?.[1] || !ModelNameSchema.safeParse(match[1]).success || blockSizeTokens < 1) {
      problems.push(
        `MODELS entry '${entry.slice(0, 80)}' must be <model slug>:<block size in tokens>[:<context length in tokens>]`,
      );
    } else if (blockSizeTokens > BLOCK_SIZE_MAX) {
      problems.push(`MODELS entry '${entry.slice(0, 80)}' has a block size above ${BLOCK_SIZE_MAX}`);
    } else if (
      contextLengthTokens !== null &&
      (contextLengthTokens < blockSizeTokens || contextLengthTokens > CONTEXT_LENGTH_MAX_TOKENS)
    ) {
      problems.push(
        `MODELS entry '${entry.slice(0, 80)}' has a context length below its block size or above ${CONTEXT_LENGTH_MAX_TOKENS}`,
      );
    } else {
      models.push({ name: match[1], blockSizeTokens, contextLengthTokens });
    }
  }
  return models;
}

/**
 * The model a create asks for, checked against the served list: 400 naming `model` when it is not served, and
 * 400 naming `steps_per_block` when it asks for more denoising steps than the model's block has positions.
 * With no list configured every slug passes (block size unknown).
 */
export function checkModelRequest(models: readonly ServedModel[], name: string, stepsPerBlock: number | undefined) {
  if (models.length === 0) return;
  const model = models.find((candidate) => candidate.name === name);
  if (!model) {
    const served = models.map((candidate) => candidate.name).join(", ");
    throw invalidRequest(`model '${name}' is not served here (${served})`, "model");
  }
  if (stepsPerBlock !== undefined && stepsPerBlock > model.blockSizeTokens) {
    throw invalidRequest(
      `steps_per_block must be at most ${model.blockSizeTokens}, the block size of '${model.name}'`,
      "steps_per_block",
    );
  }
}
