import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createSqsClient } from "../gpu-worker/src/runtime/queue/job-queue.ts";
import { STACK_MAX_RECEIVE_COUNT } from "./support/global-setup.ts";
import { useStackFixture } from "./support/hooks.ts";
import {
  createJob,
  createLongJob,
  logLines,
  spawnWorker,
  stackAddresses,
  waitFor,
  waitForEmptyQueues,
  waitForJob,
} from "./support/stack.ts";

const fixture = useStackFixture();

describe("poison messages", () => {
  it("a job that keeps crashing its worker ends in the DLQ, and the edge shows it failed", async () => {
    const { dlqUrl } = stackAddresses();
    const created = await createLongJob("Vanity of vanities");
    for (let attempt = 1; attempt <= STACK_MAX_RECEIVE_COUNT; attempt++) {
      const crashing = spawnWorker({ EDGE_URL: fixture.slowEdgeUrl, VISIBILITY_TIMEOUT_SECONDS: "2" });
      await waitFor(
        `attempt ${attempt} to start`,
        async () =>
          logLines(crashing.output(), "job started").length + logLines(crashing.output(), "job resumed").length > 0
            ? true
            : undefined,
        { timeoutMs: 30_000 },
      );
      crashing.child.kill("SIGKILL");
      await crashing.exited;
    }

    // The next receive moves the message to the DLQ; this worker's DLQ watcher fails the job on the edge.
    await fixture.startInProcessWorker({ SQS_DLQ_URL: dlqUrl });
    const failed = await waitForJob(created.id, (job) => job.status === "failed", "the job to fail", 30_000);
    expect(failed.error?.code).toBe("dead_lettered");
    await waitForEmptyQueues();
  });

  it("a message the worker cannot read is failed on the edge with the reason and deleted", async () => {
    const { queueUrl, sqsEndpoint } = stackAddresses();
    const sqs = createSqsClient({
      endpoint: sqsEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const created = await createJob("Selah", { max_tokens: 16, seed: 1 });
    // Replace the edge's message with one from a future edge (version 2) for the same job.
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5 }));
    const [message] = received.Messages ?? [];
    expect(message?.Body).toContain(created.id);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));
    const body = JSON.parse(message?.Body ?? "{}") as Record<string, unknown>;
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ ...body, version: 2 }) }),
    );

    await fixture.startInProcessWorker();
    const failed = await waitForJob(created.id, (job) => job.status === "failed", "the job to fail", 20_000);
    expect(failed.error).toMatchObject({ code: "unsupported_message_version" });
    await waitForEmptyQueues();
    sqs.destroy();
  });
});
