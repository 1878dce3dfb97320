/**
 * The stand-in GPU worker's core, free of the test runner so benches use it too (bench/streams): take job
 * messages from the real queue (the capability comes from there, as a worker's does), lease, write synthetic
 * blocks through the worker's own edge client and block stream (gpu-worker/src/runtime/edge: the
 * IdempotentProducer path), finish. Only the engine is replaced. tests/support/synthetic-writer.ts binds it to
 * the whole-stack tests' addresses.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type BlockRecord, type JobMessage, JobMessageSchema, type LeaseReply } from "@bd3-serve/shared";
import { type BlockStreamWriter, createEdgeClient, type EdgeClient } from "../../gpu-worker/src/runtime/edge/index.ts";
import { createSqsClient } from "../../gpu-worker/src/runtime/queue/job-queue.ts";

export interface StackAddresses {
  sqsEndpoint: string;
  queueUrl: string;
  edgeUrl: string;
}

export interface SyntheticJob {
  message: JobMessage;
  lease: LeaseReply;
  edge: EdgeClient;
}

/** How long to wait for the messages of the jobs asked for before giving up. */
const RECEIVE_TIMEOUT_MS = 60_000;

/**
 * Receives until the messages of every job in `jobIds` arrived (others become visible again after a second),
 * deletes them, and returns them by job id.
 */
export async function receiveJobMessages(addresses: StackAddresses, jobIds: readonly string[]) {
  const sqs = createSqsClient({
    endpoint: addresses.sqsEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "t", secretAccessKey: "t" },
  });
  const wanted = new Set(jobIds);
  const messages = new Map<string, JobMessage>();
  const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
  while (messages.size < wanted.size) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for the queue messages of ${wanted.size - messages.size} job(s)`);
    }
    const reply = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: addresses.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 1,
      }),
    );
    for (const received of reply.Messages ?? []) {
      const parsed = JobMessageSchema.safeParse(JSON.parse(received.Body ?? "null"));
      if (parsed.success && wanted.has(parsed.data.job_id)) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: addresses.queueUrl, ReceiptHandle: received.ReceiptHandle }),
        );
        messages.set(parsed.data.job_id, parsed.data);
      }
    }
  }
  return messages;
}

/** Leases the job of a received message as `workerId`. */
export async function leaseJob(
  addresses: StackAddresses,
  message: JobMessage,
  workerId: string,
): Promise<SyntheticJob> {
  const edge = createEdgeClient({ baseUrl: addresses.edgeUrl });
  const lease = await edge.lease(message.job_id, message.capability, { worker_id: workerId });
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
