/**
 * A fake SQS queue for the runtime's unit tests, and the job messages it carries: `jobMessage` (a valid body,
 * defaults from the shared schema), `queueMessage` (as a receive returns it), `FakeQueue` (scripted receives,
 * recorded calls). It models only what the consumer and the job runner observe; SQS itself (fauxqs) is
 * exercised by the whole-stack tests in `tests/`.
 */
import type { JobMessage } from "@bd3-serve/shared";
import { SamplingParamsSchema } from "@bd3-serve/shared";
import type { JobQueue, MessageRef, QueueMessage, SendOptions } from "../../src/runtime/queue/job-queue.ts";

export function jobMessage(overrides: Partial<JobMessage> = {}): JobMessage {
  return {
    version: 1,
    job_id: "job_1",
    capability: "cap-0123456789abcdef",
    model: "fake-model",
    prompt: "In the beginning",
    // Defaults come from the shared schema, so the fake never drifts from what the edge enqueues.
    params: { ...SamplingParamsSchema.parse({ max_tokens: 64 }), seed: 7 },
    enqueued_at: new Date(0).toISOString(),
    continuation: 0,
    request_id: null,
    ...overrides,
  };
}

let nextHandle = 0;
export function queueMessage(body: unknown, overrides: Partial<QueueMessage> = {}): QueueMessage {
  nextHandle++;
  return {
    messageId: `m-${nextHandle}`,
    receiptHandle: `rh-${nextHandle}`,
    queueUrl: FAKE_QUEUE_URL,
    body: typeof body === "string" ? body : JSON.stringify(body),
    receiveCount: 1,
    sentAtMs: Date.now(),
    receivedAtMs: Date.now(),
    ...overrides,
  };
}

/** The URL of a FakeQueue unless one is given (messages made by `queueMessage` come from it). */
export const FAKE_QUEUE_URL = "http://sqs.local/000000000000/jobs";

type QueueCall =
  | { op: "receive"; maxMessages: number }
  | { op: "delete"; receiptHandle: string }
  | { op: "changeVisibility"; receiptHandle: string; seconds: number }
  | { op: "send"; body: string; queueUrl: string; delaySeconds?: number };

/** A queue whose receives return scripted batches, then long-poll until aborted (or a batch is pushed). */
export class FakeQueue implements JobQueue {
  readonly calls: QueueCall[] = [];
  private readonly batches: QueueMessage[][] = [];
  private wakeReceiver: (() => void) | undefined;
  receiveError: Error | undefined;
  sendError: Error | undefined;
  /** The long poll wait of each receive, in order. */
  readonly receiveWaitsSeconds: number[] = [];

  constructor(readonly url = FAKE_QUEUE_URL) {}

  push(...messages: QueueMessage[]): void {
    this.batches.push(messages);
    this.wakeReceiver?.();
  }

  ops(op: QueueCall["op"]): QueueCall[] {
    return this.calls.filter((call) => call.op === op);
  }

  async receive(options: { maxMessages: number; waitSeconds: number; signal?: AbortSignal }): Promise<QueueMessage[]> {
    this.calls.push({ op: "receive", maxMessages: options.maxMessages });
    this.receiveWaitsSeconds.push(options.waitSeconds);
    if (this.receiveError !== undefined) throw this.receiveError;
    const take = () => {
      const batch = this.batches.shift() ?? [];
      const taken = batch.splice(0, options.maxMessages);
      if (batch.length > 0) this.batches.unshift(batch);
      return taken;
    };
    if (this.batches.length > 0) return take();
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish([]), options.waitSeconds * 1_000);
      const onAbort = () => finish([]);
      const finish = (messages: QueueMessage[]) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.wakeReceiver = undefined;
        resolve(messages);
      };
      this.wakeReceiver = () => finish(take());
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
  async delete(message: MessageRef): Promise<void> {
    this.calls.push({ op: "delete", receiptHandle: message.receiptHandle });
  }
  async changeVisibility(message: MessageRef, seconds: number): Promise<void> {
    this.calls.push({ op: "changeVisibility", receiptHandle: message.receiptHandle, seconds });
  }
  async send(body: string, queueUrl = this.url, options: SendOptions = {}): Promise<void> {
    if (this.sendError !== undefined) throw this.sendError;
    this.calls.push({ op: "send", body, queueUrl, ...options });
  }
  async attributes() {
    return { maxReceiveCount: 3, deadLetterTargetArn: undefined, approximateNumberOfMessages: 0 };
  }
}
