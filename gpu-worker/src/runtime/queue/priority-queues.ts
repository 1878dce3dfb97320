/**
 * A model's queues by priority, behind the one-queue interface the consumer polls (SQS_QUEUE_URLS, highest
 * priority first). The receive policy, one consumer round per `receive`:
 *
 * - a round asks the queues in order, highest priority first, for the free slots still open, each with
 *   WaitTimeSeconds=0 except the round's last queue, which long-polls (at most `lastWaitSecondsMax`, so an
 *   idle worker sees a job on a higher queue within that) and only when nothing came from the others. A job
 *   waiting on a higher queue is therefore always taken before one on a lower queue;
 * - every `lowestFirstEveryRounds`-th round starts from the lowest queue instead (then upwards): when every
 *   queue has a backlog the lowest still gets the free slots of one round in N, so it is never starved, and a
 *   higher one still gets the other N - 1.
 *
 * Lifecycle: stateless apart from the round counter. Calls on a received message (delete, visibility) go to
 * the queue it came from (`QueueMessage.queueUrl`); a continuation or a re-queued message (tenant limit) is
 * sent back to its message's queue.
 */
import type { JobQueue, MessageRef, QueueAttributes, QueueMessage, SendOptions } from "./job-queue.ts";

/** Default of RECEIVE_LOWEST_FIRST_EVERY_ROUNDS: the lowest queue goes first in one round of five. */
export const LOWEST_FIRST_EVERY_ROUNDS_DEFAULT = 5;
/** Default of PRIORITY_RECEIVE_WAIT_SECONDS: an idle worker checks the higher queues this often. */
export const PRIORITY_RECEIVE_WAIT_SECONDS_DEFAULT = 2;

/**
 * The order a round asks the queues in, as indexes into the queues (0: the highest priority): highest first,
 * except every `lowestFirstEveryRounds`-th round (rounds counted from 0), which goes lowest first.
 */
export function receiveOrder(round: number, queueCount: number, lowestFirstEveryRounds: number): number[] {
  const order = Array.from({ length: queueCount }, (_, index) => index);
  const isLowestFirst =
    queueCount > 1 && lowestFirstEveryRounds > 0 && round % lowestFirstEveryRounds === lowestFirstEveryRounds - 1;
  return isLowestFirst ? order.reverse() : order;
}

export interface PriorityQueuesOptions {
  /** Highest priority first. */
  queues: readonly JobQueue[];
  lowestFirstEveryRounds?: number;
  /** The longest long poll of a round's last queue, in seconds (the consumer's wait is capped by it). */
  lastWaitSecondsMax?: number;
}

export class PriorityQueues implements JobQueue {
  private round = 0;
  private readonly queues: readonly JobQueue[];
  private readonly lowestFirstEveryRounds: number;
  private readonly lastWaitSecondsMax: number;

  constructor(options: PriorityQueuesOptions) {
    if (options.queues.length === 0) throw new Error("PriorityQueues needs at least one queue");
    this.queues = options.queues;
    this.lowestFirstEveryRounds = options.lowestFirstEveryRounds ?? LOWEST_FIRST_EVERY_ROUNDS_DEFAULT;
    this.lastWaitSecondsMax = options.lastWaitSecondsMax ?? PRIORITY_RECEIVE_WAIT_SECONDS_DEFAULT;
  }

  /** The highest-priority queue. */
  get url(): string {
    return this.queues[0]!.url;
  }

  /** Every queue, highest priority first. */
  get urls(): string[] {
    return this.queues.map((queue) => queue.url);
  }

  async receive(options: {
    maxMessages: number;
    waitSeconds: number;
    visibilityTimeoutSeconds: number;
    signal?: AbortSignal;
  }): Promise<QueueMessage[]> {
    const order = receiveOrder(this.round, this.queues.length, this.lowestFirstEveryRounds);
    this.round += 1;
    const messages: QueueMessage[] = [];
    let failure: unknown;
    for (const [step, index] of order.entries()) {
      if (messages.length >= options.maxMessages || options.signal?.aborted) break;
      const isLast = step === order.length - 1;
      const waitSeconds =
        isLast && messages.length === 0
          ? this.queues.length > 1
            ? Math.min(options.waitSeconds, this.lastWaitSecondsMax)
            : options.waitSeconds
          : 0;
      try {
        const received = await this.queues[index]!.receive({
          ...options,
          maxMessages: options.maxMessages - messages.length,
          waitSeconds,
        });
        messages.push(...received);
      } catch (error) {
        // Messages already taken from a higher queue are handed on; the failure is reported when none were.
        failure ??= error;
      }
    }
    if (messages.length === 0 && failure !== undefined) throw failure;
    return messages;
  }

  async delete(message: MessageRef): Promise<void> {
    await this.queueOf(message.queueUrl).delete(message);
  }

  async changeVisibility(message: MessageRef, visibilityTimeoutSeconds: number): Promise<void> {
    await this.queueOf(message.queueUrl).changeVisibility(message, visibilityTimeoutSeconds);
  }

  async send(body: string, queueUrl?: string, options?: SendOptions): Promise<void> {
    await this.queueOf(queueUrl ?? this.url).send(body, queueUrl, options);
  }

  /**
   * Every queue's attributes: the smallest maxReceiveCount (a worker then fails a job for good no later than
   * its queue dead-letters it), the first DLQ, and the depth summed.
   */
  async attributes(): Promise<QueueAttributes> {
    const all = await Promise.all(this.queues.map((queue) => queue.attributes()));
    const counts = all.map((entry) => entry.maxReceiveCount).filter((count) => count !== undefined);
    const depths = all.map((entry) => entry.approximateNumberOfMessages);
    return {
      maxReceiveCount: counts.length > 0 ? Math.min(...counts) : undefined,
      deadLetterTargetArn: all.find((entry) => entry.deadLetterTargetArn !== undefined)?.deadLetterTargetArn,
      approximateNumberOfMessages: depths.every((depth) => depth === undefined)
        ? undefined
        : depths.reduce<number>((sum, depth) => sum + (depth ?? 0), 0),
    };
  }

  private queueOf(queueUrl: string): JobQueue {
    const queue = this.queues.find((candidate) => candidate.url === queueUrl);
    if (queue === undefined) throw new Error(`no queue ${queueUrl} in this worker's SQS_QUEUE_URLS`);
    return queue;
  }
}
