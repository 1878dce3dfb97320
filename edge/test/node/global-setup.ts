import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { startFauxqs } from "fauxqs";
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { startWebhookReceiver } from "./webhook-receiver.ts";

/** Name of the queue the edge sends to in tests (the default model's normal queue). */
const TEST_QUEUE_NAME = "bd3-jobs-test";
/** The default model of wrangler.toml; the other served models get queues of their own. */
const DEFAULT_MODEL = "kjv-bd3lm-b16";

/** The models of wrangler.toml's top-level MODELS (the edge refuses to run with a served model unqueued). */
function servedModels(): string[] {
  const toml = readFileSync(resolve(import.meta.dirname, "../../../wrangler.toml"), "utf8");
  const raw = /^MODELS = "([^"]*)"/m.exec(toml)?.[1] ?? "";
  return raw
    .split(",")
    .map((entry) => entry.split(":")[0]!.trim())
    .filter((name) => name !== "");
}

/**
 * Starts the real neighbours of the edge for the workerd tests: a local SQS server (fauxqs, random port)
 * with the jobs queue, and an HTTP webhook receiver. Both are reached from workerd over 127.0.0.1.
 */
export default async function setup(project: TestProject) {
  const sqs = await startFauxqs({ port: 0, logger: false });
  const queue = sqs.createQueue(TEST_QUEUE_NAME);
  // The default model: all three priorities; the others: normal only (low and high fall back to it).
  const sqsQueues: Record<string, Record<string, string>> = {
    [DEFAULT_MODEL]: {
      "0": sqs.createQueue(`${TEST_QUEUE_NAME}-p0`).queueUrl,
      "1": queue.queueUrl,
      "2": sqs.createQueue(`${TEST_QUEUE_NAME}-p2`).queueUrl,
    },
  };
  for (const model of servedModels()) {
    sqsQueues[model] ??= { "1": sqs.createQueue(`${TEST_QUEUE_NAME}-${model}`).queueUrl };
  }
  const receiver = await startWebhookReceiver();
  project.provide("sqsEndpoint", sqs.address);
  project.provide("sqsQueueUrl", queue.queueUrl);
  project.provide("sqsQueues", sqsQueues);
  project.provide("receiverUrl", receiver.url);
  return async () => {
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
    await sqs.stop();
  };
}
