import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { JobMessageSchema } from "@bd3-serve/shared";
import { describe, expect, inject, it } from "vitest";
import { createJob } from "./helpers/api.ts";
import { workerCall } from "./helpers/worker.ts";

const sqs = new SQSClient({
  endpoint: inject("sqsEndpoint"),
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

/** Long-polls the local queue until the message of `jobId` arrives (other tests' messages are skipped). */
async function receiveMessageOf(jobId: string) {
  for (let poll = 0; poll < 20; poll += 1) {
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: inject("sqsQueueUrl"), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of received.Messages ?? []) {
      const body = JSON.parse(message.Body ?? "{}") as { job_id?: string };
      if (body.job_id === jobId) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: inject("sqsQueueUrl"), ReceiptHandle: message.ReceiptHandle }),
        );
        return body;
      }
    }
  }
  throw new Error(`no message for ${jobId}`);
}

describe("SQS enqueue (fauxqs)", () => {
  it("sends a JobMessage with the resolved params and a capability that works for that job only", async () => {
    const job = await createJob({ prompt: "to the queue", max_tokens: 48, top_p: 0.5 });
    const message = JobMessageSchema.parse(await receiveMessageOf(job.id));
    expect(message).toMatchObject({
      version: 1,
      job_id: job.id,
      model: job.model,
      prompt: "to the queue",
      continuation: 0,
      params: { max_tokens: 48, top_p: 0.5, seed: job.params.seed },
    });
    const leased = await workerCall(job.id, "lease", { worker_id: "sqs-test" }, message.capability);
    expect(leased.status).toBe(200);
    const other = await createJob();
    const refused = await workerCall(other.id, "lease", { worker_id: "sqs-test" }, message.capability);
    expect(refused.status).toBe(401);
  });
});
