/**
 * The SQS poll loop, in the shape of bbc/sqs-consumer: long poll (20 s), hand every message to the handler,
 * and poll again only once the handlers are done. Unlike sqs-consumer a handler only *admits* a job (jobs run
 * for minutes to hours), so the number of messages asked for is the number of free batch slots, and with none
 * free the loop waits for one.
 *
 * Stopping: `stop()` lets the long poll in progress finish (its messages still go to the handler, which
 * releases them while the worker drains) and then ends the loop; `stop({ abort: true })` aborts the poll
 * through an AbortController. Aborting is not free: SQS (and fauxqs) may still hand a message to the closed
 * connection, and that message then stays invisible for the receive's visibility timeout.
 */
import { SQS_RECEIVE_MAX_MESSAGES } from "../../config/schema.ts";
import { sleep } from "../edge/retry.ts";
import type { Logger } from "../observability/logger.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";
import type { JobQueue, QueueMessage } from "../queue/job-queue.ts";

/** After a failed receive, wait this long before the next (doubling up to the max), in milliseconds. */
export const RECEIVE_ERROR_BACKOFF_MS = 1_000;
export const RECEIVE_ERROR_BACKOFF_MAX_MS = 30_000;

export interface SlotProvider {
  freeSlots(): number;
  waitForFreeSlot(signal?: AbortSignal): Promise<void>;
}

export interface ConsumerOptions {
  queue: JobQueue;
  slots: SlotProvider;
  /** Admits one message; must not throw. */
  handleMessage: (message: QueueMessage) => Promise<void>;
  /** Long poll wait per receive, seconds (SQS max 20). */
  receiveWaitSeconds: number;
  /** Visibility given to received messages, seconds. */
  visibilityTimeoutSeconds: number;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Reports whether the last receive reached the queue (readiness). */
  onQueueReachable?: (isReachable: boolean) => void;
}

export class Consumer {
  /** Ends the waits between polls (free slot, error backoff). */
  private readonly stopController = new AbortController();
  /** Ends the long poll in progress. */
  private readonly abortController = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: ConsumerOptions) {}

  get isRunning(): boolean {
    return this.loop !== undefined && !this.stopController.signal.aborted;
  }

  start(): void {
    if (this.loop !== undefined) return;
    this.loop = this.poll();
  }

  /**
   * Ends the loop after the poll in progress (or at once with `abort`) and waits for the handlers of the last
   * batch to finish. May be called again with `abort` while a graceful stop waits.
   */
  async stop({ abort = false }: { abort?: boolean } = {}): Promise<void> {
    this.stopController.abort(new Error("consumer stopped"));
    if (abort) this.abortController.abort(new Error("consumer aborted"));
    await this.loop;
  }

  private async poll(): Promise<void> {
    const { queue, slots, handleMessage, logger, metrics } = this.options;
    const stopSignal = this.stopController.signal;
    const signal = this.abortController.signal;
    let errorBackoffMs = RECEIVE_ERROR_BACKOFF_MS;
    while (!stopSignal.aborted) {
      const freeSlots = slots.freeSlots();
      if (freeSlots <= 0) {
        await slots.waitForFreeSlot(stopSignal);
        continue;
      }
      let messages: QueueMessage[];
      try {
        messages = await queue.receive({
          maxMessages: Math.min(freeSlots, SQS_RECEIVE_MAX_MESSAGES),
          waitSeconds: this.options.receiveWaitSeconds,
          visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
          signal,
        });
        this.options.onQueueReachable?.(true);
        errorBackoffMs = RECEIVE_ERROR_BACKOFF_MS;
      } catch (error) {
        metrics.queueErrors.inc({ operation: "receive" });
        this.options.onQueueReachable?.(false);
        logger.warn({ err: error, retry_in_ms: errorBackoffMs }, "receive failed");
        await sleep(errorBackoffMs, stopSignal).catch(() => {});
        errorBackoffMs = Math.min(errorBackoffMs * 2, RECEIVE_ERROR_BACKOFF_MAX_MS);
        continue;
      }
      // A message received as the consumer stops is still handled: the handler releases it while draining.
      await Promise.all(messages.map((message) => handleMessage(message)));
    }
  }
}
