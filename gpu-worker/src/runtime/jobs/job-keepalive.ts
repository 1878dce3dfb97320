/**
 * The periodic work of a held job (every HEARTBEAT_INTERVAL_SECONDS): extend its message's visibility,
 * heart-beat the edge (which reports cancels and lost leases), and hand the job over as a continuation before
 * the message reaches SQS's 12 h visibility cap.
 */
import { isTerminalJobStatus } from "@bd3-serve/shared";
import { isEdgeCallError } from "../edge/index.ts";
import type { JobControl, JobRunnerOptions } from "./job-context.ts";
import type { JobEndings } from "./job-endings.ts";
import { continuationBody } from "./parse-message.ts";
import type { RunningJob } from "./running-job.ts";

/** SQS caps a message's total visibility at 12 h from its receive. */
export const SQS_VISIBILITY_CAP_MS = 12 * 60 * 60 * 1_000;

export class JobKeepalive {
  private readonly now: () => number;

  constructor(
    private readonly options: JobRunnerOptions,
    private readonly control: JobControl,
    private readonly endings: JobEndings,
  ) {
    this.now = options.now ?? Date.now;
  }

  async tick(job: RunningJob): Promise<void> {
    if (!job.isWriting) return;
    const { queue, edge, metrics, visibilityTimeoutSeconds, continuationMarginSeconds } = this.options;
    const heldForMs = this.now() - job.message.receivedAtMs;
    const capReachedAtMs = heldForMs + (visibilityTimeoutSeconds + continuationMarginSeconds) * 1_000;
    if (job.phase === "generating" && capReachedAtMs >= SQS_VISIBILITY_CAP_MS) {
      await this.handOver(job);
      return;
    }
    try {
      await queue.changeVisibility(job.message, visibilityTimeoutSeconds);
    } catch (error) {
      metrics.queueErrors.inc({ operation: "change_visibility" });
      job.log.warn({ err: error }, "could not extend the message's visibility");
    }
    if (job.epoch === undefined || !job.isWriting) return;
    try {
      const reply = await edge.heartbeat(job.id, job.job.capability, { epoch: job.epoch });
      if (isTerminalJobStatus(reply.status)) await this.control.close(job, "terminal", "delete");
      else if (reply.is_canceled) await this.endings.cancel(job, "heartbeat");
    } catch (error) {
      if (isEdgeCallError(error) && (error.code === "stale_epoch" || error.code === "job_terminal")) {
        await this.endings.handleCallError(job, error, "heartbeat");
      } else {
        job.log.warn({ err: error }, "edge heartbeat failed");
      }
    }
  }

  /** Near SQS's 12 h cap: stop at a block boundary, re-enqueue the job as a continuation, delete this message. */
  private async handOver(job: RunningJob): Promise<void> {
    job.phase = "handing_over";
    this.control.abortInEngine(job);
    try {
      await job.writer?.flush();
    } catch {
      return; // the stream's error already ended the attempt
    }
    if (!job.isWriting) return;
    try {
      await this.options.queue.send(continuationBody(job.job), job.message.queueUrl);
    } catch (error) {
      this.options.metrics.queueErrors.inc({ operation: "send" });
      job.log.warn({ err: error }, "could not enqueue the continuation; releasing the message instead");
      await this.control.close(job, "released", "release");
      return;
    }
    job.log.info({ continuation: job.job.continuation + 1, blocks: job.nextBlockIndex }, "job handed over");
    await this.control.close(job, "continued", "delete");
  }
}
