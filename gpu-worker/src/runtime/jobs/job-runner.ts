/**
 * Runs the jobs this worker holds: one SQS message = one job = one engine request = one batch slot.
 *
 * Lifecycle of a message: parse -> lease on the edge (resume point + epoch) -> engine.addRequest -> blocks are
 * appended in order as the engine emits them -> finish on the edge -> delete the message. Meanwhile a heartbeat
 * extends the message's visibility and heart-beats the edge (which reports cancels).
 *
 * What happens to the message when the runner lets go of a job (`close`):
 * - delete: a terminal outcome the edge knows (succeeded, canceled, failed for good, job already terminal);
 * - release (visibility 0): SIGTERM drain or the handover fallback; another worker resumes at once;
 * - retry (visibility = backoff): a transient error before the last receive; the edge keeps the job queued;
 * - keep: the lease was lost (another worker holds the job) or the edge could not be told at the last receive
 *   (the message then goes to the DLQ, where the DLQ watcher fails it on the edge).
 *
 * Invariant: a message is deleted only once the edge has a terminal outcome for its job (or the message can
 * never name a job: a body without job_id + capability).
 */
import { ERROR_MESSAGE_MAX_LENGTH, isTerminalJobStatus, type JobMessage } from "@bd3-serve/shared";
import type { BlockOutput, Engine } from "../../engine/index.ts";
import { type EdgeClient, isEdgeCallError } from "../edge/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { JobOutcome, WorkerMetrics } from "../observability/metrics.ts";
import type { JobQueue, QueueMessage } from "../queue/job-queue.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { continuationBody, parseJobMessage } from "./parse-message.ts";
import { RunningJob } from "./running-job.ts";

/** SQS caps a message's total visibility at 12 h from its receive. */
const SQS_VISIBILITY_CAP_MS = 12 * 60 * 60 * 1_000;
/**
 * Backpressure: a job may run this many blocks ahead of the edge. Beyond it the engine waits (at most
 * BACKPRESSURE_MAX_WAIT_MS per step) for that job's appends, so a slow edge does not pile up blocks in memory
 * and a drain has little left to append.
 */
export const MAX_PENDING_APPENDS_PER_JOB = 2;
export const BACKPRESSURE_MAX_WAIT_MS = 5_000;
/** Retry delay after a transient failure: 2^receiveCount seconds, at most this (and the visibility timeout). */
const RETRY_DELAY_MAX_SECONDS = 300;

export type MessageAction = "delete" | "release" | "retry" | "keep";

export interface JobRunnerOptions {
  engine: Engine;
  edge: EdgeClient;
  queue: JobQueue;
  metrics: WorkerMetrics;
  logger: Logger;
  workerId: string;
  /** Jobs must ask for this model; others are failed (one queue per model). */
  modelName: string;
  maxBatchSize: number;
  visibilityTimeoutSeconds: number;
  heartbeatIntervalMs: number;
  /** Receives after which SQS dead-letters the message; undefined: no DLQ, never the last attempt. */
  maxReceiveCount: number | undefined;
  continuationMarginSeconds: number;
  /** Called when the engine has new work (the engine loop wakes up). */
  onWork: () => void;
  now?: () => number;
}

export class JobRunner {
  private readonly jobs = new Map<string, RunningJob>();
  private readonly slotWaiters = new Set<() => void>();
  private isDraining = false;
  private releaseGate: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: JobRunnerOptions) {
    this.now = options.now ?? Date.now;
  }

  get heldJobs(): number {
    return this.jobs.size;
  }

  freeSlots(): number {
    return Math.max(0, this.options.maxBatchSize - this.jobs.size);
  }

  /** Resolves when a slot frees (or at once if one is free) or when `signal` aborts. */
  waitForFreeSlot(signal?: AbortSignal): Promise<void> {
    if (this.freeSlots() > 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.slotWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.slotWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Resolves when every held job has been let go. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all([...this.jobs.values()].map((job) => job.closed));
  }

  /** Takes one received message; resolves once the job is admitted to the engine or let go. Never throws. */
  async handleMessage(message: QueueMessage): Promise<void> {
    const { logger, metrics } = this.options;
    metrics.messagesReceived.inc();
    try {
      const parsed = parseJobMessage(message.body);
      if (parsed.kind === "invalid") {
        await this.rejectInvalid(message, parsed.envelope, parsed.code, parsed.reason);
        return;
      }
      await this.startJob(parsed.job, message);
    } catch (error) {
      logger.error({ err: error, message_id: message.messageId }, "unexpected error while taking a message");
    }
  }

  private async rejectInvalid(
    message: QueueMessage,
    envelope: { job_id: string; capability: string } | undefined,
    code: string,
    reason: string,
  ): Promise<void> {
    const { edge, logger, metrics } = this.options;
    const log = logger.child({ job_id: envelope?.job_id, message_id: message.messageId });
    if (envelope === undefined) {
      log.error({ code, reason, body: message.body.slice(0, 500) }, "deleting a message that names no job");
    } else {
      try {
        await edge.fail(envelope.job_id, envelope.capability, { code, message: reason, is_retryable: false });
        log.warn({ code, reason }, "failed an invalid job message on the edge");
      } catch (error) {
        if (!isEdgeCallError(error) || error.isRetryable) {
          // The edge could not be told: keep the message; it comes back (and ends in the DLQ at worst).
          log.warn({ err: error, code }, "could not fail an invalid message on the edge; it will be retried");
          await this.applyAction(message, "retry", log);
          return;
        }
        log.warn({ err: error, code }, "edge refused to fail an invalid message; deleting it");
      }
    }
    metrics.jobs.inc({ outcome: "invalid" });
    await this.applyAction(message, "delete", log);
  }

  private async startJob(jobMessage: JobMessage, message: QueueMessage): Promise<void> {
    const { engine, edge, logger, metrics, workerId, modelName } = this.options;
    const held = this.jobs.get(jobMessage.job_id);
    if (held !== undefined) {
      if (held.phase === "leasing" || held.phase === "generating") {
        // Redelivered to the worker that runs it (a heartbeat came late): keep running, extend the new handle.
        held.log.warn({ receive_count: message.receiveCount }, "message redelivered while running; adopting it");
        held.message = message;
        return;
      }
      await held.closed;
    }
    const job = new RunningJob(jobMessage, message, logger.child({ job_id: jobMessage.job_id }));
    if (this.isDraining || this.freeSlots() === 0) {
      job.log.info("no free slot (draining or full); releasing the message");
      await this.applyAction(message, "release", job.log);
      return;
    }
    if (jobMessage.model !== modelName) {
      await this.failForGood(
        job,
        "unsupported_model",
        `this queue's workers serve model ${modelName}, not ${jobMessage.model}`,
      );
      return;
    }
    this.jobs.set(job.id, job);
    metrics.jobsHeld.set(this.jobs.size);
    job.stopHeartbeat = startHeartbeat(
      this.options.heartbeatIntervalMs,
      () => this.heartbeat(job),
      (error) => job.log.warn({ err: error }, "heartbeat failed"),
    );
    if (message.receiveCount === 1 && jobMessage.continuation === 0) {
      const sentAtMs = message.sentAtMs ?? Date.parse(jobMessage.enqueued_at);
      metrics.queueWait.observe(Math.max(0, (message.receivedAtMs - sentAtMs) / 1_000));
    }

    let lease: Awaited<ReturnType<EdgeClient["lease"]>>;
    try {
      lease = await edge.lease(job.id, jobMessage.capability, { worker_id: workerId });
    } catch (error) {
      if (isEdgeCallError(error) && error.status === 404) {
        job.log.warn("job does not exist on the edge; deleting its message");
        await this.close(job, "terminal", "delete");
        return;
      }
      await this.handleCallError(job, error, "lease");
      return;
    }
    if (job.isClosed) return;
    if (job.phase !== "leasing") {
      await this.close(job, "released", "release");
      return;
    }
    job.epoch = lease.epoch;
    if (isTerminalJobStatus(lease.status)) {
      job.log.info({ status: lease.status }, "job already ended; deleting its message");
      await this.close(job, "terminal", "delete");
      return;
    }
    if (lease.is_canceled) {
      await this.cancel(job, "lease");
      return;
    }
    job.nextBlockIndex = lease.committed_blocks;
    job.completionTokens = lease.committed_token_ids.length;
    if (job.completionTokens >= jobMessage.params.max_tokens) {
      // An earlier worker appended the last block and died before `finish`: finish for it.
      job.log.info({ committed_blocks: lease.committed_blocks }, "all tokens already committed; finishing");
      job.phase = "finishing";
      await this.finish(job, "max_tokens");
      return;
    }
    const result = engine.addRequest({
      requestId: job.id,
      prompt: jobMessage.prompt,
      params: jobMessage.params,
      ...(lease.committed_blocks > 0
        ? { committedTokenIds: lease.committed_token_ids, startBlockIndex: lease.committed_blocks }
        : {}),
    });
    if (result.status === "rejected") {
      await this.failForGood(job, "rejected", result.reason);
      return;
    }
    job.isInEngine = true;
    job.hasStarted = result.status === "admitted";
    job.phase = "generating";
    job.log.info(
      {
        epoch: lease.epoch,
        committed_blocks: lease.committed_blocks,
        receive_count: message.receiveCount,
        continuation: jobMessage.continuation,
        engine: result.status === "waiting" ? `waiting (${result.reason})` : result.status,
      },
      lease.committed_blocks > 0 ? "job resumed" : "job started",
    );
    this.options.onWork();
  }

  /** Blocks from one engine step. Appends are chained per job so they reach the edge in order. */
  onOutputs(outputs: readonly BlockOutput[]): void {
    for (const output of outputs) {
      const job = this.jobs.get(output.requestId);
      if (job === undefined || (job.phase !== "generating" && job.phase !== "draining")) continue;
      if (output.index !== job.nextBlockIndex) {
        job.log.error(
          { index: output.index, expected: job.nextBlockIndex },
          "engine emitted an unexpected block index",
        );
        void this.failAttempt(job, new Error(`engine emitted block ${output.index}, expected ${job.nextBlockIndex}`));
        continue;
      }
      job.nextBlockIndex++;
      job.blocksThisAttempt++;
      job.hasStarted = true;
      job.lastUsage = this.options.engine.usage(job.id) ?? job.lastUsage;
      if (output.isLast && output.finishReason === "error") {
        // The engine lost this sequence (a failed forward ends its whole batch): retry the job elsewhere/later.
        job.isInEngine = false;
        job.phase = "finishing";
        job.appendTail = job.appendTail.then(() =>
          this.failAttempt(job, new Error(`the engine ended block ${output.index} with an error`)),
        );
        continue;
      }
      let after: "continue" | "finish" | "release" = "continue";
      if (output.isLast) {
        job.isInEngine = false;
        job.phase = "finishing";
        after = "finish";
      } else if (job.phase === "draining") {
        // SIGTERM: this was the block in flight; append it and hand the job to another worker.
        this.abortInEngine(job);
        after = "release";
      }
      job.pendingAppends++;
      job.appendTail = job.appendTail
        .then(() => this.appendBlock(job, output, after))
        .finally(() => {
          job.pendingAppends--;
        });
    }
  }

  /** Resolves when no job is more than MAX_PENDING_APPENDS_PER_JOB blocks ahead of the edge (or after the cap). */
  async waitForAppends(): Promise<void> {
    const behind = [...this.jobs.values()].filter((job) => job.pendingAppends > MAX_PENDING_APPENDS_PER_JOB);
    if (behind.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(behind.map((job) => job.appendTail)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, BACKPRESSURE_MAX_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** The engine step threw: every request in it is lost; each job is retried (or failed at its last receive). */
  onStepError(error: unknown): void {
    for (const job of this.jobs.values()) {
      if (job.isInEngine) void this.failAttempt(job, error);
    }
  }

  private async appendBlock(job: RunningJob, output: BlockOutput, after: "continue" | "finish" | "release") {
    if (!job.isWriting || job.epoch === undefined) return;
    const { edge, metrics } = this.options;
    let reply: Awaited<ReturnType<EdgeClient["append"]>>;
    try {
      reply = await edge.append(job.id, job.job.capability, {
        epoch: job.epoch,
        block: { index: output.index, text: output.text, token_count: output.tokenIds.length },
        token_ids: output.tokenIds,
      });
    } catch (error) {
      await this.handleCallError(job, error, "append");
      return;
    }
    metrics.blocksAppended.inc({ result: reply.result });
    job.completionTokens += output.tokenIds.length;
    job.log.debug({ index: output.index, tokens: output.tokenIds.length, result: reply.result }, "block appended");
    if (!job.isWriting) return;
    if (reply.is_canceled) {
      await this.cancel(job, "append");
      return;
    }
    if (after === "finish") await this.finish(job, output.finishReason);
    else if (after === "release") await this.close(job, "released", "release");
  }

  private async finish(job: RunningJob, finishReason: BlockOutput["finishReason"]): Promise<void> {
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
    await this.close(job, reason === "canceled" ? "canceled" : "succeeded", "delete");
  }

  /**
   * The edge reported a cancel: free the slot at once, confirm with finish(canceled) so the job turns
   * `canceled` without waiting for the edge's cancel grace, and delete the message.
   */
  private async cancel(job: RunningJob, seenIn: "lease" | "append" | "heartbeat"): Promise<void> {
    if (!job.isWriting) return;
    job.phase = "canceling";
    this.abortInEngine(job);
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
    await this.close(job, "canceled", "delete");
  }

  private usageOf(job: RunningJob): { prompt_tokens: number; completion_tokens: number; forwards: number } {
    const usage = this.options.engine.usage(job.id) ?? job.lastUsage;
    return {
      prompt_tokens: usage?.promptTokens ?? 0,
      completion_tokens: job.completionTokens,
      forwards: usage?.forwards ?? 0,
    };
  }

  private async heartbeat(job: RunningJob): Promise<void> {
    if (!job.isWriting) return;
    const { queue, edge, metrics, visibilityTimeoutSeconds, continuationMarginSeconds } = this.options;
    const heldForMs = this.now() - job.message.receivedAtMs;
    const capReachedAtMs = heldForMs + (visibilityTimeoutSeconds + continuationMarginSeconds) * 1_000;
    if (job.phase === "generating" && capReachedAtMs >= SQS_VISIBILITY_CAP_MS) {
      await this.handOver(job);
      return;
    }
    try {
      await queue.changeVisibility(job.message.receiptHandle, visibilityTimeoutSeconds);
    } catch (error) {
      metrics.queueErrors.inc({ operation: "change_visibility" });
      job.log.warn({ err: error }, "could not extend the message's visibility");
    }
    if (job.epoch === undefined || !job.isWriting) return;
    try {
      const reply = await edge.heartbeat(job.id, job.job.capability, { epoch: job.epoch });
      if (isTerminalJobStatus(reply.status)) await this.close(job, "terminal", "delete");
      else if (reply.is_canceled) await this.cancel(job, "heartbeat");
    } catch (error) {
      if (isEdgeCallError(error) && (error.code === "stale_epoch" || error.code === "job_terminal")) {
        await this.handleCallError(job, error, "heartbeat");
      } else {
        job.log.warn({ err: error }, "edge heartbeat failed");
      }
    }
  }

  /** Near SQS's 12 h cap: stop at a block boundary, re-enqueue the job as a continuation, delete this message. */
  private async handOver(job: RunningJob): Promise<void> {
    job.phase = "handing_over";
    this.abortInEngine(job);
    await job.appendTail;
    if (!job.isWriting) return;
    try {
      await this.options.queue.send(continuationBody(job.job));
    } catch (error) {
      this.options.metrics.queueErrors.inc({ operation: "send" });
      job.log.warn({ err: error }, "could not enqueue the continuation; releasing the message instead");
      await this.close(job, "released", "release");
      return;
    }
    job.log.info({ continuation: job.job.continuation + 1, blocks: job.nextBlockIndex }, "job handed over");
    await this.close(job, "continued", "delete");
  }

  private async handleCallError(job: RunningJob, error: unknown, call: string): Promise<void> {
    if (!job.isWriting) return;
    if (isEdgeCallError(error, "stale_epoch")) {
      job.log.warn({ call }, "lease lost (a newer epoch exists); dropping the job without touching its message");
      await this.close(job, "lease_lost", "keep");
    } else if (isEdgeCallError(error, "job_terminal")) {
      job.log.info({ call }, "job already terminal on the edge; deleting its message");
      await this.close(job, "terminal", "delete");
    } else {
      await this.failAttempt(job, error);
    }
  }

  /** A transient failure of this attempt: retry later, or fail the job on the edge at the last receive. */
  private async failAttempt(job: RunningJob, error: unknown): Promise<void> {
    if (!job.isWriting) return;
    this.abortInEngine(job);
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
    await this.close(job, "retried", "retry");
  }

  /** Fails the job on the edge for good and deletes the message; if the edge cannot be told, keeps it. */
  private async failForGood(job: RunningJob, code: string, reason: string): Promise<void> {
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
        await this.close(job, "failed", "keep");
        return;
      }
      job.log.warn({ err: error, code }, "edge refused the fail call; deleting the message");
    }
    job.log.warn({ code, reason }, "job failed");
    await this.close(job, "failed", "delete");
  }

  /**
   * SIGTERM: append the block in flight of each running job, then release it; release the rest at once.
   * Releases wait for `releaseGate` (the consumer's last long poll to end): a message made visible while this
   * worker's own poll is pending would be received again, costing it one of its receives before the DLQ.
   */
  beginDrain(releaseGate: Promise<unknown> = Promise.resolve()): void {
    this.isDraining = true;
    this.releaseGate = releaseGate.catch(() => {});
    for (const job of this.jobs.values()) {
      if (job.phase === "leasing") {
        job.phase = "draining";
      } else if (job.phase === "generating") {
        if (job.hasStarted) job.phase = "draining";
        else void this.close(job, "released", "release");
      }
    }
  }

  /** Drain deadline: release every job that has not reached a block boundary yet. */
  async releaseRemaining(): Promise<void> {
    const pending = [...this.jobs.values()].filter((job) => job.phase === "draining" || job.phase === "generating");
    await Promise.all(pending.map((job) => this.close(job, "released", "release")));
  }

  private abortInEngine(job: RunningJob): void {
    if (!job.isInEngine) return;
    job.isInEngine = false;
    this.options.engine.abortRequest(job.id);
  }

  private async close(job: RunningJob, outcome: JobOutcome, action: MessageAction): Promise<void> {
    if (job.isClosed) return job.closed;
    job.phase = "closed";
    job.stopHeartbeat();
    this.abortInEngine(job);
    try {
      await this.applyAction(job.message, action, job.log);
    } finally {
      if (this.jobs.get(job.id) === job) this.jobs.delete(job.id);
      this.options.metrics.jobs.inc({ outcome });
      this.options.metrics.jobsHeld.set(this.jobs.size);
      job.log.debug({ outcome, action }, "let go of the job");
      job.markClosed();
      for (const notify of [...this.slotWaiters]) notify();
    }
  }

  private async applyAction(message: QueueMessage, action: MessageAction, log: Logger): Promise<void> {
    const { queue, metrics, visibilityTimeoutSeconds } = this.options;
    try {
      if (action === "delete") await queue.delete(message.receiptHandle);
      else if (action === "release") {
        await this.releaseGate;
        await queue.changeVisibility(message.receiptHandle, 0);
      } else if (action === "retry") {
        const delaySeconds = Math.min(2 ** message.receiveCount, RETRY_DELAY_MAX_SECONDS, visibilityTimeoutSeconds);
        await queue.changeVisibility(message.receiptHandle, delaySeconds);
      }
    } catch (error) {
      metrics.queueErrors.inc({ operation: action === "delete" ? "delete" : "change_visibility" });
      log.warn({ err: error, action }, "SQS call failed; the message will reappear after its visibility timeout");
    }
  }
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, ERROR_MESSAGE_MAX_LENGTH);
}
