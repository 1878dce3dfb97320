import { startFauxqs } from "fauxqs";
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { startWebhookReceiver } from "./webhook-receiver.ts";

/** Name of the queue the edge sends to in tests. */
const TEST_QUEUE_NAME = "bd3-jobs-test";

/**
 * Starts the real neighbours of the edge for the workerd tests: a local SQS server (fauxqs, random port)
 * with the jobs queue, and an HTTP webhook receiver. Both are reached from workerd over 127.0.0.1.
 */
export default async function setup(project: TestProject) {
  const sqs = await startFauxqs({ port: 0, logger: false });
  const queue = sqs.createQueue(TEST_QUEUE_NAME);
  const receiver = await startWebhookReceiver();
  project.provide("sqsEndpoint", sqs.address);
  project.provide("sqsQueueUrl", queue.queueUrl);
  project.provide("receiverUrl", receiver.url);
  return async () => {
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
    await sqs.stop();
  };
}
