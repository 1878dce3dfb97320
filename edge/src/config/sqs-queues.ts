import { type PRIORITIES, PRIORITY_DEFAULT } from "@bd3-serve/shared";
import { z } from "zod";
import type { ServedModel } from "../models/served-models.ts";
import type { EdgeVars } from "./vars.ts";

/** A job's priority as the queue map's key: 0 low, 1 normal, 2 high. */
export type Priority = (typeof PRIORITIES)[number];

/** The queue URL of each priority of one model, fallbacks resolved (a missing priority uses the normal queue). */
export type ModelQueueUrls = Record<Priority, string>;

export interface SqsConfig {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Every model with a queue, by name. */
  queues: Record<string, ModelQueueUrls>;
  /**
   * The queues of a model with none of its own: the default model's when MODELS is empty (any slug is served
   * then, as with the single SQS_QUEUE_URL of older edges); null when MODELS lists the models.
   */
  fallback: ModelQueueUrls | null;
}

/**
 * `SQS_QUEUES`: `{ "<model>": { "0": url, "1": url, "2": url } }`. A model needs its normal queue ("1"); a
 * missing "0" or "2" sends that priority to the normal queue (one queue per model keeps working, priority then
 * orders nothing).
 */
const SqsQueuesSchema = z.record(
  z.string().min(1),
  z.strictObject({ "0": z.url().optional(), "1": z.url(), "2": z.url().optional() }),
);

function resolveModel(urls: Partial<Record<"0" | "1" | "2", string>> & { "1": string }): ModelQueueUrls {
  return { 0: urls["0"] ?? urls["1"], 1: urls["1"], 2: urls["2"] ?? urls["1"] };
}

function parseQueueMap(raw: string | undefined, problems: string[]): Record<string, ModelQueueUrls> {
  if (raw === undefined || raw.trim() === "") return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    problems.push("SQS_QUEUES is not valid JSON");
    return {};
  }
  const parsed = SqsQueuesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    problems.push(`SQS_QUEUES is invalid at ${issue?.path.join(".") || "the top"}: ${issue?.message ?? "bad shape"}`);
    return {};
  }
  return Object.fromEntries(Object.entries(parsed.data).map(([model, urls]) => [model, resolveModel(urls)]));
}

/**
 * The edge's SQS settings: the endpoint and credentials, and the queue of every (model, priority). SQS_QUEUES
 * names them; the single SQS_QUEUE_URL of older edges is still accepted as the default model's normal queue.
 * Null (with a problem) when incomplete; a served model (MODELS) with no queue is a problem naming SQS_QUEUES.
 */
export function parseSqs(env: EdgeVars, models: readonly ServedModel[], defaultModel: string, problems: string[]) {
  const { SQS_ENDPOINT, SQS_QUEUE_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = env;
  const queues = parseQueueMap(env.SQS_QUEUES, problems);
  if (SQS_QUEUE_URL) {
    const named = queues[defaultModel];
    if (named === undefined) {
      queues[defaultModel] = resolveModel({ "1": SQS_QUEUE_URL });
    } else if (named[PRIORITY_DEFAULT] !== SQS_QUEUE_URL) {
      problems.push(`SQS_QUEUE_URL and SQS_QUEUES name different normal queues for '${defaultModel.slice(0, 80)}'`);
    }
  }
  const hasQueues = Object.keys(queues).length > 0;
  if (!SQS_ENDPOINT || !hasQueues || !AWS_REGION || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
    problems.push("SQS settings are incomplete (SQS_ENDPOINT, SQS_QUEUES or SQS_QUEUE_URL, AWS_*)");
    return null;
  }
  const unqueued = models.filter((model) => queues[model.name] === undefined).map((model) => model.name);
  if (unqueued.length > 0) {
    problems.push(`SQS_QUEUES has no queue for the served model(s) ${unqueued.join(", ").slice(0, 200)}`);
  }
  const config: SqsConfig = {
    endpoint: SQS_ENDPOINT,
    region: AWS_REGION,
    accessKeyId: AWS_ACCESS_KEY_ID,
    secretAccessKey: AWS_SECRET_ACCESS_KEY,
    queues,
    fallback: models.length === 0 ? (queues[defaultModel] ?? null) : null,
  };
  return config;
}

/** The queue a job of `model` at `priority` is sent to; null when that model has none (a config problem). */
export function queueUrlFor(sqs: SqsConfig, model: string, priority: number): string | null {
  const urls = sqs.queues[model] ?? sqs.fallback;
  if (urls === null) return null;
  return urls[priority as Priority] ?? urls[PRIORITY_DEFAULT];
}
