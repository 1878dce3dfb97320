/**
 * How a job this worker runs comes to an end on the edge: finished, canceled (confirmed with
 * finish(canceled)), failed for this attempt (retried later) or for good, or dropped because another worker
 * took the lease. Each ends with `close`, which applies the matching action to the SQS message.
 */
import { ERROR_MESSAGE_MAX_LENGTH } from "@bd3-serve/shared";
import type { BlockOutput } from "../../engine/index.ts";
import { createTokenizer, type Tokenizer } from "../../engine/tokenizer/index.ts";
import { isEdgeCallError } from "../edge/index.ts";
import type { JobControl, JobRunnerOptions } from "./job-context.ts";
import type { RunningJob } from "./running-job.ts";

export class JobEndings {
  private tokenizer: Tokenizer | undefined;

  constructor(
    private readonly options: JobRunnerOptions,
    private readonly control: JobControl,
  ) {}

  async finish(job: RunningJob, finishReason: BlockOutput["finishReason"]): Promise<void> {
    const reason = finishReason === null || finishReason === "error" ? "eos" : finishReason;
    const usage = this.usageOf(job);
    try {
      await this.options.edge.finish(job.id, job.job.capability, {
        epoch: job.epoch ?? 1,
        finish_reason: reason,
        usage,
      });
    } catch (error) {
      await this.handleCallError(job, error, "finish");
      return;
    }
    job.log.info({ finish_reason: reason, blocks: job.nextBlockIndex, usage }, "job finished");
    await this.control.close(job, reason === "canceled" ? "canceled" : "succeeded", "delete");
  }

  /**
   * The edge reported a cancel: free the slot at once, confirm with finish(canceled) so the job turns
   * `canceled` without waiting for the edge's cancel grace, and delete the message.
   */
  async cancel(job: RunningJob, seenIn: "lease" | "append" | "heartbeat"): Promise<void> {
    if (!job.isWriting) return;
    job.phase = "canceling";
    this.control.abortInEngine(job);
    job.log.info({ seen_in: seenIn, blocks: job.nextBlockIndex }, "job canceled on the edge; stopping");
    if (job.epoch !== undefined) {
      try {
        await this.options.edge.finish(job.id, job.job.capability, {
          epoch: job.epoch,
          finish_reason: "canceled",
          usage: this.usageOf(job),
        });
      } catch (error) {
        job.log.debug({ err: error }, "could not confirm the cancel (the edge cancels on its own after a grace)");
      }
    }
    await this.control.close(job, "canceled", "delete");
  }

  /**
   * Usage for finish. A job finished straight from its lease (the generation had already ended) was never in
   * this engine: its prompt is tokenized here (same tokenizer, so the same count) and forwards are 0 (those
   * of earlier attempts are not known).
   */
  usageOf(job: RunningJob): { prompt_tokens: number; completion_tokens: number; forwards: number } {
    const usage = this.options.engine.usage(job.id) ?? job.lastUsage;
    return {
      prompt_tokens: usage?.promptTokens ?? this.promptTokens(job),
      completion_tokens: job.completionTokens,
      forwards: job.priorForwards + (usage?.forwards ?? 0),
    };
  }

  private promptTokens(job: RunningJob): number {
    try {
      this.tokenizer ??= createTokenizer(this.options.engine.manifest.tokenizer.kind);
      return this.tokenizer.encode(job.job.prompt).length;
    } catch (error) {
      job.log.debug({ err: error }, "could not count the prompt tokens; reporting 0");
      return 0;
    }
  }

  async handleCallError(job: RunningJob, error: unknown, call: string): Promise<void> {
    if (!job.isWriting) return;
    if (isEdgeCallError(error, "stale_epoch")) {
      job.log.warn({ call }, "lease lost (a newer epoch exists); dropping the job without touching its message");
      await this.control.close(job, "lease_lost", "keep");
    } else if (isEdgeCallError(error, "job_terminal")) {
      job.log.info({ call }, "job already terminal on the edge; deleting its message");
      await this.control.close(job, "terminal", "delete");
    } else {
      await this.failAttempt(job, error);
    }
  }

  /** A transient failure of this attempt: retry later, or fail the job on the edge at the last receive. */
  async failAttempt(job: RunningJob, error: unknown): Promise<void> {
    if (!job.isWriting) return;
    this.control.abortInEngine(job);
    const { maxReceiveCount } = this.options;
    const isLastAttempt = maxReceiveCount !== undefined && job.message.receiveCount >= maxReceiveCount;
    const message = describeError(error);
    job.log.warn(
      { err: error, receive_count: job.message.receiveCount, is_last_attempt: isLastAttempt },
      "attempt failed",
    );
    if (isLastAttempt) {
      await this.failForGood(job, "worker_error", `gave up after ${job.message.receiveCount} attempts: ${message}`);
      return;
    }
    try {
      await this.options.edge.fail(job.id, job.job.capability, {
        ...(job.epoch !== undefined ? { epoch: job.epoch } : {}),
        code: "worker_error",
        message,
        is_retryable: true,
      });
    } catch (failError) {
      job.log.debug({ err: failError }, "could not report the retryable failure to the edge");
    }
    await this.control.close(job, "retried", "retry");
  }

  /** Fails the job on the edge for good and deletes the message; if the edge cannot be told, keeps it. */
  async failForGood(job: RunningJob, code: string, reason: string): Promise<void> {
    try {
      await this.options.edge.fail(job.id, job.job.capability, {
        ...(job.epoch !== undefined ? { epoch: job.epoch } : {}),
        code,
        message: reason.slice(0, ERROR_MESSAGE_MAX_LENGTH),
        is_retryable: false,
      });
    } catch (error) {
      if (!isEdgeCallError(error) || error.isRetryable) {
        job.log.error({ err: error, code }, "could not fail the job on the edge; leaving its message to SQS");
        await this.control.close(job, "failed", "keep");
        return;
      }
      job.log.warn({ err: error, code }, "edge refused the fail call; deleting the message");
    }
    job.log.warn({ code, reason }, "job failed");
    await this.control.close(job, "failed", "delete");
  }
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, ERROR_MESSAGE_MAX_LENGTH);
}
