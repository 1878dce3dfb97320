/**
 * The narrow view of the SQS queues the runtime needs. The consumer and the job runner see only this interface,
 * so their unit tests run against an in-memory fake; `createSqsJobQueue` is the real one for one queue and
 * `PriorityQueues` (priority-queues.ts) the set of a model's queues by priority. Every message remembers the
 * queue it came from, and the calls on a message (delete, visibility) go to that queue. The AWS SDK already
 * retries throttling and 5xx (standard mode, 3 attempts); we add nothing on top.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";

export interface QueueMessage {
  messageId: string;
  receiptHandle: string;
  /** The queue it was received from: its delete, visibility changes and continuation go there. */
  queueUrl: string;
  body: string;
  /** SQS `ApproximateReceiveCount`: 1 on the first delivery. */
  receiveCount: number;
  /** SQS `SentTimestamp`, epoch milliseconds. */
  sentAtMs: number | undefined;
  /** When this worker received it (its own clock), epoch milliseconds: SQS's 12 h visibility cap counts from here. */
  receivedAtMs: number;
}

export interface QueueAttributes {
  /** From the RedrivePolicy; undefined when the queue has no DLQ. */
  maxReceiveCount: number | undefined;
  deadLetterTargetArn: string | undefined;
  approximateNumberOfMessages: number | undefined;
}

export interface SendOptions {
  /** SQS DelaySeconds: at most SQS_DELAY_SECONDS_MAX. */
  delaySeconds?: number;
}

/** SQS's longest DelaySeconds (15 min). */
export const SQS_DELAY_SECONDS_MAX = 900;

/** What a call on a received message needs: its receipt and the queue it came from. */
export type MessageRef = Pick<QueueMessage, "receiptHandle" | "queueUrl">;

export interface JobQueue {
  /** The queue (the highest-priority one of a set). */
  readonly url: string;
  /** Long poll; resolves to [] when `signal` aborts. */
  receive(options: {
    maxMessages: number;
    waitSeconds: number;
    visibilityTimeoutSeconds: number;
    signal?: AbortSignal;
  }): Promise<QueueMessage[]>;
  delete(message: MessageRef): Promise<void>;
  changeVisibility(message: MessageRef, visibilityTimeoutSeconds: number): Promise<void>;
  /**
   * Sends to `queueUrl` (a continuation or a re-queued message goes back to its message's queue); default:
   * `url`. `delaySeconds` (SQS DelaySeconds, 0..900) keeps the new message invisible that long.
   */
  send(body: string, queueUrl?: string, options?: SendOptions): Promise<void>;
  attributes(): Promise<QueueAttributes>;
}

export interface SqsClientSettings {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export function createSqsClient(settings: SqsClientSettings): SQSClient {
  return new SQSClient({
    endpoint: settings.endpoint,
    region: settings.region,
    ...(settings.credentials !== undefined ? { credentials: settings.credentials } : {}),
  });
}

export function createSqsJobQueue(client: SQSClient, queueUrl: string, now: () => number = Date.now): JobQueue {
  return {
    url: queueUrl,
    async receive({ maxMessages, waitSeconds, visibilityTimeoutSeconds, signal }) {
      if (signal?.aborted) return [];
      try {
        const reply = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: maxMessages,
            WaitTimeSeconds: waitSeconds,
            VisibilityTimeout: visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
          signal !== undefined ? { abortSignal: signal } : {},
        );
        const receivedAtMs = now();
        return (reply.Messages ?? []).flatMap((message) => {
          if (message.ReceiptHandle === undefined || message.MessageId === undefined) return [];
          const sent = message.Attributes?.SentTimestamp;
          return [
            {
              messageId: message.MessageId,
              receiptHandle: message.ReceiptHandle,
              queueUrl,
              body: message.Body ?? "",
              receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? "1"),
              sentAtMs: sent !== undefined ? Number(sent) : undefined,
              receivedAtMs,
            },
          ];
        });
      } catch (error) {
        if (signal?.aborted) return [];
        throw error;
      }
    },
    async delete(message) {
      await client.send(new DeleteMessageCommand({ QueueUrl: message.queueUrl, ReceiptHandle: message.receiptHandle }));
    },
    async changeVisibility(message, visibilityTimeoutSeconds) {
      await client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: message.queueUrl,
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: visibilityTimeoutSeconds,
        }),
      );
    },
    async send(body, toQueueUrl = queueUrl, options = {}) {
      const { delaySeconds } = options;
      await client.send(
        new SendMessageCommand({
          QueueUrl: toQueueUrl,
          MessageBody: body,
          ...(delaySeconds !== undefined ? { DelaySeconds: delaySeconds } : {}),
        }),
      );
    },
    async attributes() {
      const reply = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["RedrivePolicy", "ApproximateNumberOfMessages"],
        }),
      );
      const redrive = parseRedrivePolicy(reply.Attributes?.RedrivePolicy);
      const depth = reply.Attributes?.ApproximateNumberOfMessages;
      return {
        maxReceiveCount: redrive?.maxReceiveCount,
        deadLetterTargetArn: redrive?.deadLetterTargetArn,
        approximateNumberOfMessages: depth !== undefined ? Number(depth) : undefined,
      };
    },
  };
}

function parseRedrivePolicy(
  text: string | undefined,
): { maxReceiveCount: number | undefined; deadLetterTargetArn: string | undefined } | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    const policy = JSON.parse(text) as { maxReceiveCount?: unknown; deadLetterTargetArn?: unknown };
    const count = Number(policy.maxReceiveCount);
    return {
      maxReceiveCount: Number.isInteger(count) && count > 0 ? count : undefined,
      deadLetterTargetArn: typeof policy.deadLetterTargetArn === "string" ? policy.deadLetterTargetArn : undefined,
    };
  } catch {
    return undefined;
  }
}
