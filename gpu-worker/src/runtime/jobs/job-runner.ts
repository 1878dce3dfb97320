/**
 * Runs the jobs this worker holds: one SQS message = one job = one engine request = one batch slot.
 *
 * Lifecycle of a message: parse -> lease on the edge (resume point + epoch) -> open the job's block stream ->
 * engine.addRequest -> blocks go to the stream as the engine emits them (block-sink.ts: batched, pipelined)
 * -> after the last one is acknowledged, finish on the edge -> delete the message. Meanwhile a heartbeat
 * extends the message's visibility and heart-beats the edge (which reports cancels).
 *
 * When the runner lets go of a job (`close`) its message is deleted, released, retried or kept (see
 * `MessageAction` in job-context.ts); how a job ends on the edge is in job-endings.ts, the periodic
 * heartbeat / 12 h handover in job-keepalive.ts.
 *
 * Invariant: a message is deleted only once the edge has a terminal outcome for its job (or the message can
 * never name a job: a body without job_id + capability).
 */
import type { JobMessage } from "@bd3-serve/shared";
import type { BlockOutput } from "../../engine/index.ts";
import { type JobOutcome, queueWaitSeconds } from "../observability/metrics.ts";
import type { QueueMessage } from "../queue/job-queue.ts";
import { BlockSink } from "./block-sink.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { rejectInvalidMessage } from "./invalid-message.ts";
import type { JobControl, JobRunnerOptions, MessageAction } from "./job-context.ts";
import { JobEndings } from "./job-endings.ts";
import { JobKeepalive } from "./job-keepalive.ts";
import { planAfterLease, takeLease } from "./job-lease.ts";
import { MessageActions } from "./message-actions.ts";
import { isPastStartDeadline, parseJobMessage } from "./parse-message.ts";
import { RunningJob } from "./running-job.ts";
import { SlotWaiters } from "./slot-waiters.ts";
import { requeueForTenantLimit } from "./tenant-limit.ts";

export type { JobRunnerOptions, MessageAction } from "./job-context.ts";

export class JobRunner implements JobControl {
  private readonly jobs = new Map<string, RunningJob>();
  private readonly slotWaiters = new SlotWaiters();
  private isDraining = false;
  /** The first job this worker starts says which execution provider runs it (later ones do not repeat it). */
  private hasStartedAJob = false;
  private readonly messages: MessageActions;
  private readonly endings: JobEndings;
  private readonly keepalive: JobKeepalive;
  private readonly sink: BlockSink;

  constructor(private readonly options: JobRunnerOptions) {
    this.messages = new MessageActions(options.queue, options.metrics, options.visibilityTimeoutSeconds);
    this.endings = new JobEndings(options, this);
    this.keepalive = new JobKeepalive(options, this, this.endings);
    this.sink = new BlockSink(options, this, this.endings, { admit: (job) => this.admit(job) });
  }

  get heldJobs(): number {
    return this.jobs.size;
  }

  freeSlots(): number {
    return Math.max(0, this.options.maxBatchSize - this.jobs.size);
  }

  /** Resolves when a slot frees (or at once if one is free) or when `signal` aborts. */
  waitForFreeSlot(signal?: AbortSignal): Promise<void> {
    return this.slotWaiters.wait(() => this.freeSlots() > 0, signal);
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
        await rejectInvalidMessage(this.options, this.messages, message, parsed.envelope, parsed.code, parsed.reason);
        return;
      }
      await this.startJob(parsed.job, message);
    } catch (error) {
      logger.error({ err: error, message_id: message.messageId }, "unexpected error while taking a message");
    }
  }

  private async startJob(jobMessage: JobMessage, message: QueueMessage): Promise<void> {
    const { edge, logger, metrics, workerId, modelName } = this.options;
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
    const log = logger.child({
      job_id: jobMessage.job_id,
      request_id: jobMessage.request_id,
      ...(jobMessage.priority !== undefined ? { priority: jobMessage.priority } : {}),
    });
    const job = new RunningJob(jobMessage, message, log);
    if (this.isDraining || this.freeSlots() === 0) {
      job.log.info("no free slot (draining or full); releasing the message");
      await this.messages.apply(message, "release", job.log);
      return;
    }
    if (isPastStartDeadline(jobMessage, Date.now())) {
      job.log.info({ start_by: jobMessage.start_by }, "start deadline passed; deleting the message unleased");
      return this.messages.apply(message, "delete", job.log);
    }
    if (jobMessage.model !== modelName) {
      await this.endings.failForGood(
        job,
        "unsupported_model",
        `this queue's workers serve model ${modelName}, not ${jobMessage.model}`,
      );
      return;
    }
    this.jobs.set(job.id, job);
    metrics.jobsHeld.set(this.jobs.size);
    this.options.onHeldJobs?.(this.jobs.size);
    job.stopHeartbeat = startHeartbeat(
      this.options.heartbeatIntervalMs,
      () => this.keepalive.tick(job),
      (error) => job.log.warn({ err: error }, "heartbeat failed"),
    );

    const taken = await takeLease(edge, job, workerId);
    if (taken.kind === "missing") {
      job.log.warn("job does not exist on the edge; deleting its message");
      await this.close(job, "terminal", "delete");
      return;
    }
    // The tenant runs its max_running_jobs: the message goes back to its queue delayed (never toward the DLQ).
    if (taken.kind === "tenant_limited") return requeueForTenantLimit(this.options, this, job, taken.retryAfterSeconds);
    if (taken.kind === "held") {
      // Another worker's lease is live: the message comes back when it would lapse; never deleted here.
      job.log.info({ defer_seconds: taken.deferSeconds }, "another worker holds the job's lease; leaving the message");
      await this.close(job, "lease_held", job.phase === "leasing" ? { deferSeconds: taken.deferSeconds } : "release");
      return;
    }
    if (taken.kind === "failed") {
      await this.endings.handleCallError(job, taken.error, "lease");
      return;
    }
    const { lease } = taken;
    job.epoch = lease.epoch;
    // Once per job, at its first lease ever (epoch 1): not at a receive the tenant's quota turned back, nor at a
    // continuation's or a redelivery's (metrics.ts: why from enqueued_at, not SentTimestamp).
    if (lease.epoch === 1) metrics.queueWait.observe(queueWaitSeconds(jobMessage, message.receivedAtMs));
    if (job.isClosed) return;
    if (job.phase !== "leasing") {
      await this.close(job, "released", "release");
      return;
    }
    job.nextBlockIndex = lease.committed_blocks;
    job.committedTokenIds = [...lease.committed_token_ids];
    const plan = planAfterLease(lease, jobMessage.params.max_tokens);
    if (plan.kind === "terminal") {
      job.log.info({ status: lease.status }, "job already ended; deleting its message");
      await this.close(job, "terminal", "delete");
      return;
    }
    if (plan.kind === "canceled") {
      await this.endings.cancel(job, "lease");
      return;
    }
    if (plan.kind === "finish") {
      // An earlier worker appended the block that ended the generation and died before `finish`: finish for it.
      job.log.info(
        { committed_blocks: lease.committed_blocks, finish_reason: plan.finishReason },
        "generation already ended; finishing",
      );
      job.phase = "finishing";
      await this.endings.finish(job, plan.finishReason);
      return;
    }
    this.sink.open(job);
    job.phase = "generating";
    if (!(await this.admit(job))) return;
    job.log.info(
      {
        epoch: lease.epoch,
        committed_blocks: lease.committed_blocks,
        receive_count: message.receiveCount,
        continuation: jobMessage.continuation,
        ...(this.hasStartedAJob ? {} : { execution_provider: this.options.engine.executionProvider }),
      },
      lease.committed_blocks > 0 ? "job resumed" : "job started",
    );
    this.hasStartedAJob = true;
  }

  /**
   * Puts a leased job into the engine, resuming after its committed blocks (a first start, a resume after
   * another worker, or a job paused by backpressure). False when the engine refused it (the job is failed).
   */
  private async admit(job: RunningJob): Promise<boolean> {
    const committed = job.nextBlockIndex;
    const result = this.options.engine.addRequest({
      requestId: job.id,
      prompt: job.job.prompt,
      params: job.job.params,
      ...(committed > 0 ? { committedTokenIds: [...job.committedTokenIds], startBlockIndex: committed } : {}),
    });
    if (result.status === "rejected") {
      await this.endings.failForGood(job, "rejected", result.reason);
      return false;
    }
    job.isInEngine = true;
    job.hasStarted ||= result.status === "admitted";
    if (result.status === "waiting") job.log.info({ reason: result.reason }, "waiting in the engine");
    this.options.onWork();
    return true;
  }

  /** Blocks from one engine step, handed to each job's block stream (block-sink.ts). Never waits. */
  onOutputs(outputs: readonly BlockOutput[]): void {
    for (const output of outputs) {
      const job = this.jobs.get(output.requestId);
      if (job === undefined || (job.phase !== "generating" && job.phase !== "draining")) continue;
      this.sink.accept(job, output);
    }
  }

  /** The engine step threw: every request in it is lost; each job is retried (or failed at its last receive). */
  onStepError(error: unknown): void {
    for (const job of this.jobs.values()) {
      if (job.isInEngine) void this.endings.failAttempt(job, error);
    }
  }

  /**
   * SIGTERM: append the block in flight of each running job, then release it; release the rest at once.
   * Releases wait for `releaseGate` (the consumer's last long poll to end): a message made visible while this
   * worker's own poll is pending would be received again, costing it one of its receives before the DLQ.
   */
  beginDrain(releaseGate: Promise<unknown> = Promise.resolve()): void {
    this.isDraining = true;
    this.messages.holdReleasesUntil(releaseGate);
    for (const job of this.jobs.values()) {
      if (job.phase === "leasing") {
        job.phase = "draining";
      } else if (job.phase === "generating") {
        // A job with a block in flight sends it first; one waiting in the engine (or paused) has none.
        if (job.hasStarted && job.isInEngine) job.phase = "draining";
        else void this.close(job, "released", "release");
      }
    }
  }

  /** Drain deadline: release every job that has not reached a block boundary yet. */
  async releaseRemaining(): Promise<void> {
    const pending = [...this.jobs.values()].filter((job) => job.phase === "draining" || job.phase === "generating");
    await Promise.all(pending.map((job) => this.close(job, "released", "release")));
  }

  abortInEngine(job: RunningJob): void {
    if (!job.isInEngine) return;
    job.isInEngine = false;
    this.options.engine.abortRequest(job.id);
  }

  /** Gives the edge lease back before the message becomes visible, so the next worker leases at once. */
  private async releaseLease(job: RunningJob): Promise<void> {
    if (job.epoch === undefined) return;
    try {
      await this.options.edge.release(job.id, job.job.capability, { epoch: job.epoch });
    } catch (error) {
      // Not fatal: the lease then lapses on its own within LEASE_TERM_SECONDS.
      job.log.debug({ err: error }, "could not release the lease on the edge");
    }
  }

  async close(job: RunningJob, outcome: JobOutcome, action: MessageAction): Promise<void> {
    if (job.isClosed) return job.closed;
    job.phase = "closed";
    job.stopHeartbeat();
    job.writer?.abandon();
    this.abortInEngine(job);
    try {
      if (action === "release") await this.releaseLease(job);
      await this.messages.apply(job.message, action, job.log);
    } finally {
      if (this.jobs.get(job.id) === job) this.jobs.delete(job.id);
      this.options.metrics.jobs.inc({ outcome });
      this.options.metrics.jobsHeld.set(this.jobs.size);
      this.options.onHeldJobs?.(this.jobs.size);
      job.log.debug({ outcome, action }, "let go of the job");
      job.markClosed();
      this.slotWaiters.notifyAll();
    }
  }
}
