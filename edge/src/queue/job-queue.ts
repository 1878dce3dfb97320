import { type JobMessage, JobMessageSchema } from "@bd3-serve/shared";
import type { SqsConfig } from "../config/config.ts";
import { ENQUEUE_TIMEOUT_MS } from "../config/constants.ts";

/** Where job messages go. The Durable Object depends on this seam only, so tests can make it fail. */
export interface JobQueue {
  /** Sends to `queueUrl`: the queue of the job's model and priority (config/sqs-queues.ts `queueUrlFor`). */
  send(message: JobMessage, queueUrl: string): Promise<void>;
}

/**
 * SQS through @aws-sdk/client-sqs (JSON protocol, fetch handler under workerd). The SDK is imported on the
 * first send only: it adds ~390 KiB and a slow first import, which reads, streams and worker calls never pay.
 * SDK-level retries are kept to one extra try; the job's alarm owns the longer retry schedule.
 */
const queues = new Map<string, JobQueue>();

/** One SQS queue client per isolate and configuration, shared by every job object in the isolate. */
export function sharedSqsJobQueue(config: SqsConfig): JobQueue {
  const key = JSON.stringify(config);
  let queue = queues.get(key);
  if (!queue) {
    queue = createSqsJobQueue(config);
    queues.set(key, queue);
  }
  return queue;
}

export function createSqsJobQueue(config: SqsConfig): JobQueue {
  let clientPromise: Promise<{ send: (message: JobMessage, queueUrl: string) => Promise<void> }> | null = null;
  const load = async () => {
    const { SQSClient, SendMessageCommand } = await import("@aws-sdk/client-sqs");
    const client = new SQSClient({
      endpoint: config.endpoint,
      region: config.region,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      maxAttempts: 2,
    });
    return {
      send: async (message: JobMessage, queueUrl: string) => {
        const body = JSON.stringify(JobMessageSchema.parse(message));
        await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }), {
          abortSignal: AbortSignal.timeout(ENQUEUE_TIMEOUT_MS),
        });
      },
    };
  };
  return {
    async send(message, queueUrl) {
      clientPromise ??= load().catch((error: unknown) => {
        clientPromise = null;
        throw error;
      });
      await (await clientPromise).send(message, queueUrl);
    },
  };
}
