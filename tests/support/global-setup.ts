/**
 * Starts the local stack once for every whole-stack test (scripts/local-stack.ts, the same stack `npm start`
 * runs): fauxqs with the jobs queue and its DLQ (redrive after STACK_MAX_RECEIVE_COUNT receives) and the edge
 * bundled as a deploy would be, in Miniflare. Unlike `wrangler dev` it does not reload when someone edits
 * edge/ or wrangler.toml during the run. Provides the addresses to the tests through `inject`.
 */
import type { TestProject } from "vitest/node";
import { type LocalModelQueues, startLocalStack } from "../../scripts/local-stack.ts";
import { MODEL_NAME } from "./test-model.ts";

/**
 * Receives before SQS moves a job message to the DLQ. Set explicitly and small, below production's
 * JOB_MAX_RECEIVE_COUNT (5, the default of `npm start`'s stack), so the poison test crashes a worker twice
 * rather than five times; the tests that read the count (poison.test.ts) import this constant.
 */
export const STACK_MAX_RECEIVE_COUNT = 2;

declare module "vitest" {
  export interface ProvidedContext {
    sqsEndpoint: string;
    queueUrl: string;
    dlqUrl: string;
    /** Every served model's queues by priority and its DLQ (the default model's normal queue is queueUrl). */
    modelQueues: Record<string, LocalModelQueues>;
    edgeUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const stack = await startLocalStack({
    maxReceiveCount: STACK_MAX_RECEIVE_COUNT,
    visibilityTimeoutSeconds: 30,
    defaultModel: MODEL_NAME,
  });
  project.provide("sqsEndpoint", stack.sqsEndpoint);
  project.provide("queueUrl", stack.queueUrl);
  project.provide("dlqUrl", stack.dlqUrl);
  project.provide("modelQueues", stack.modelQueues);
  project.provide("edgeUrl", stack.edgeUrl);
  return stack.stop;
}
