/**
 * A stand-in GPU worker for whole-stack tests that need documents far longer than the demo model writes in
 * test time: it takes the job's message from the real queue (the capability comes from there, as a worker's
 * does), leases the job and writes synthetic blocks through the worker's own edge client and block stream
 * (gpu-worker/src/runtime/edge: the IdempotentProducer path), then finishes. Only the engine is replaced.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type BlockRecord, type JobMessage, JobMessageSchema, type LeaseReply } from "@bd3-serve/shared";
import { type BlockStreamWriter, createEdgeClient, type EdgeClient } from "../../gpu-worker/src/runtime/edge/index.ts";
import { createSqsClient } from "../../gpu-worker/src/runtime/queue/job-queue.ts";
import { stackAddresses, waitFor } from "./stack.ts";

export interface SyntheticJob {
  message: JobMessage;
  lease: LeaseReply;
  edge: EdgeClient;
}

/** Receives messages until the one of `jobId` arrives (others become visible again), deletes it, leases. */
export async function takeJob(jobId: string, workerId = "synthetic-worker"): Promise<SyntheticJob> {
  const { sqsEndpoint, queueUrl, edgeUrl } = stackAddresses();
  const sqs = createSqsClient({
    endpoint: sqsEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "t", secretAccessKey: "t" },
  });
  const message = await waitFor(`the queue message of ${jobId}`, async () => {
    const reply = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 1,
      }),
    );
    for (const received of reply.Messages ?? []) {
      const parsed = JobMessageSchema.safeParse(JSON.parse(received.Body ?? "null"));
      if (parsed.success && parsed.data.job_id === jobId) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: received.ReceiptHandle }));
        return parsed.data;
      }
    }
    return undefined;
  });
  const edge = createEdgeClient({ baseUrl: edgeUrl });
  const lease = await edge.lease(jobId, message.capability, { worker_id: workerId });
  return { message, lease, edge };
}

/** The job's block stream for this lease (one per lease: its sequence numbers are the lease's). */
export function openWriter(job: SyntheticJob): BlockStreamWriter {
  return job.edge.openBlockStream(job.message.job_id, job.message.capability, {
    epoch: job.lease.epoch,
    startBlock: job.lease.committed_blocks,
    producerId: "synthetic-worker",
  });
}

/** Sends `blocks` (batched, pipelined) and waits for every acknowledgement. */
export async function writeBlocks(writer: BlockStreamWriter, blocks: Iterable<BlockRecord>): Promise<void> {
  for (const block of blocks) writer.append(block);
  await writer.flush();
}

export async function finishJob(job: SyntheticJob, completionTokens: number): Promise<void> {
  await job.edge.finish(job.message.job_id, job.message.capability, {
    epoch: job.lease.epoch,
    finish_reason: "max_tokens",
    usage: { prompt_tokens: 3, completion_tokens: completionTokens, forwards: 0 },
  });
}
