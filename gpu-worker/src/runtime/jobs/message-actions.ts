/**
 * The SQS side of letting go of a job (see `MessageAction`). Releases can be held behind a gate: while the
 * worker drains, its last long poll may still be pending, and a message made visible then would be received
 * again by this very worker, costing it one of its receives before the DLQ.
 */
import type { Logger } from "../observability/logger.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";
import type { JobQueue, QueueMessage } from "../queue/job-queue.ts";
import type { MessageAction } from "./job-context.ts";

/** Retry delay after a transient failure: 2^receiveCount seconds, at most this (and the visibility timeout). */
export const RETRY_DELAY_MAX_SECONDS = 300;
/** SQS's largest visibility timeout (12 h), the bound of a deferral. */
const VISIBILITY_MAX_SECONDS = 43_200;

export class MessageActions {
  private releaseGate: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly queue: JobQueue,
    private readonly metrics: WorkerMetrics,
    private readonly visibilityTimeoutSeconds: number,
  ) {}

  /** Releases from now on wait for `gate` to settle. */
  holdReleasesUntil(gate: Promise<unknown>): void {
    this.releaseGate = gate.catch(() => {});
  }

  /** Never throws: a failed SQS call only means the message reappears after its visibility timeout. */
  async apply(message: QueueMessage, action: MessageAction, log: Logger): Promise<void> {
    try {
      if (typeof action === "object") {
        const delaySeconds = Math.min(Math.max(1, Math.ceil(action.deferSeconds)), VISIBILITY_MAX_SECONDS);
        await this.queue.changeVisibility(message, delaySeconds);
      } else if (action === "delete") await this.queue.delete(message);
      else if (action === "release") {
        await this.releaseGate;
        await this.queue.changeVisibility(message, 0);
      } else if (action === "retry") {
        const delaySeconds = Math.min(
          2 ** message.receiveCount,
          RETRY_DELAY_MAX_SECONDS,
          this.visibilityTimeoutSeconds,
        );
        await this.queue.changeVisibility(message, delaySeconds);
      }
    } catch (error) {
      this.metrics.queueErrors.inc({ operation: action === "delete" ? "delete" : "change_visibility" });
      log.warn({ err: error, action }, "SQS call failed; the message will reappear after its visibility timeout");
    }
  }
}
