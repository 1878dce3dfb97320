import { isTerminalJobStatus, type JobStatus, type WebhookEventType } from "@bd3-serve/shared";
import { type EdgeConfig, readConfig } from "../config/config.ts";
import { ALARM_TASK_RETRY_MS, ENQUEUE_RETRY_DELAYS_MS, ENQUEUE_TIMEOUT_MS } from "../config/constants.ts";
import type { Env } from "../env.ts";
import { type JobQueue, sharedSqsJobQueue } from "../queue/job-queue.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import { WebhookOutbox } from "../webhooks/outbox.ts";
import { type Clock, systemClock } from "./clock.ts";
import { buildJobMessage } from "./job-message.ts";
import { type JobRecord, JobStore } from "./job-store.ts";
import { toJobSummary, toJobView } from "./job-view.ts";
import { Schedule } from "./schedule.ts";
import { doneEvent, SseHub } from "./sse-hub.ts";
import { type JobTransition, nextStatus } from "./state-machine.ts";

/** Names of the non-delivery tasks in the schedule table. */
export const TASK = {
  enqueue: "enqueue",
  indexSync: "index_sync",
  stall: "stall",
  expire: "expire",
  cancelDeadline: "cancel_deadline",
  retention: "retention",
} as const;

const TERMINAL_EVENT: Partial<Record<JobStatus, WebhookEventType>> = {
  succeeded: "generation.completed",
  failed: "generation.failed",
  expired: "generation.failed",
  canceled: "generation.canceled",
};

/**
 * The state and side effects of one job, shared by the Durable Object's RPC methods and its alarm.
 *
 * Every status change goes through `transition` (state-machine.ts) in one synchronous step that also writes
 * the durable intent of its side effects as schedule rows (`index_sync`, webhook deliveries, `retention`).
 * `settle()` then runs what can run at once (tenant index, SQS) and re-arms the alarm; whatever fails there
 * stays scheduled, so a crash or an outage delays a side effect but never loses it.
 */
export class JobCore {
  readonly store: JobStore;
  readonly schedule: Schedule;
  readonly outbox: WebhookOutbox;
  readonly hub: SseHub;
  clock: Clock = systemClock;
  /** Test seam: where job messages go (SQS unless replaced). */
  queueFactory: (config: EdgeConfig) => JobQueue = (config) => sharedSqsJobQueue(config.sqs!);
  private queue: JobQueue | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly background = new Set<Promise<void>>();

  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
  ) {
    this.store = new JobStore(ctx.storage.sql);
    this.schedule = new Schedule(ctx.storage);
    this.outbox = new WebhookOutbox(ctx.storage.sql, this.schedule);
    this.hub = new SseHub(this.config.sseKeepaliveMs);
  }

  get config(): EdgeConfig {
    return readConfig(this.env);
  }

  get jobQueue(): JobQueue {
    this.queue ??= this.queueFactory(this.config);
    return this.queue;
  }

  now(): number {
    return this.clock.now();
  }

  ensureSchema(): void {
    this.store.ensureSchema();
    this.outbox.ensureSchema();
  }

  /** The job, only for its own tenant: another tenant's job does not exist for them. */
  jobFor(tenantId: string): JobRecord | null {
    const job = this.store.read();
    return job && job.tenantId === tenantId ? job : null;
  }

  /**
   * Applies a transition with extra fields; null when the state machine refuses it. A status change
   * schedules the tenant index update; reaching a terminal status runs `finalize`.
   */
  transition(job: JobRecord, transition: JobTransition, patch: Partial<JobRecord> = {}): JobRecord | null {
    const status = nextStatus(job.status, transition);
    if (status === null) return null;
    const now = this.now();
    const changed = status !== job.status;
    const full: Partial<JobRecord> = { ...patch, status, statusVersion: job.statusVersion + (changed ? 1 : 0) };
    if (isTerminalJobStatus(status)) full.finishedAt = now;
    this.store.update(full);
    const updated = { ...job, ...full };
    if (changed) this.schedule.set(TASK.indexSync, now + ALARM_TASK_RETRY_MS);
    if (isTerminalJobStatus(status)) this.finalize(updated, now);
    return updated;
  }

  private finalize(job: JobRecord, now: number): void {
    for (const task of [TASK.stall, TASK.expire, TASK.enqueue, TASK.cancelDeadline]) this.schedule.clear(task);
    this.schedule.set(TASK.retention, now + this.config.retentionMs);
    const eventType = TERMINAL_EVENT[job.status];
    if (job.webhook && eventType && job.webhook.events.includes(eventType)) {
      const view = toJobView(job, this.store.text());
      this.outbox.add(
        eventType,
        JSON.stringify({ type: eventType, timestamp: new Date(now).toISOString(), data: view }),
        now,
      );
    }
    this.hub.closeAll(doneEvent(toJobSummary(job)));
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Runs work after the current call has answered; failures are logged (their durable intent remains). */
  inBackground(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      console.error(JSON.stringify({ event: "background_failed", error: String(error) }));
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
    this.ctx.waitUntil(tracked);
  }

  /** Resolves once no background work is running (tests await this instead of sleeping). */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all(this.background);
  }

  /** Resolves when the job is terminal or after `timeoutMs`, whichever comes first. */
  waitForTerminal(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }

  /** Runs the side effects that are due now and re-arms the alarm for the rest. */
  async settle(): Promise<void> {
    const job = this.store.read();
    if (job === null) return;
    if (this.schedule.dueAt(TASK.indexSync) !== null) await this.syncIndex(job);
    await this.schedule.arm();
  }

  async syncIndex(job: JobRecord): Promise<void> {
    try {
      await tenantIndexStub(this.env, job.tenantId).upsert({
        jobId: job.id,
        status: job.status,
        statusVersion: job.statusVersion,
        createdAt: job.createdAt,
      });
      this.schedule.clear(TASK.indexSync);
    } catch (error) {
      console.warn(JSON.stringify({ event: "index_sync_failed", job_id: job.id, error: String(error) }));
      this.schedule.set(TASK.indexSync, this.now() + ALARM_TASK_RETRY_MS);
    }
  }

  /**
   * One SQS send. Success clears the `enqueue` task; a failure schedules the next try, and after the last
   * one the job fails with `enqueue_failed` (it is never left queued with no message behind it).
   */
  async enqueue(job: JobRecord): Promise<void> {
    if (job.status !== "queued") {
      this.schedule.clear(TASK.enqueue);
      return;
    }
    const attempts = job.enqueueAttempts + 1;
    this.schedule.set(TASK.enqueue, this.now() + ENQUEUE_TIMEOUT_MS * 2);
    try {
      await this.jobQueue.send(await buildJobMessage(this.config, job, this.now()));
      this.store.update({ enqueueAttempts: attempts, enqueuedAt: this.now() });
      this.schedule.clear(TASK.enqueue);
    } catch (error) {
      const message = String(error).slice(0, 500);
      console.warn(JSON.stringify({ event: "enqueue_failed", job_id: job.id, attempts, error: message }));
      const current = this.store.read();
      if (current === null) return;
      this.store.update({ enqueueAttempts: attempts });
      const delay = ENQUEUE_RETRY_DELAYS_MS[attempts - 1];
      if (delay !== undefined) {
        this.schedule.set(TASK.enqueue, this.now() + delay);
        return;
      }
      this.schedule.clear(TASK.enqueue);
      this.transition({ ...current, enqueueAttempts: attempts }, "fail", {
        finishReason: "error",
        error: { code: "enqueue_failed", message: `the job could not be queued after ${attempts} attempts` },
      });
    }
  }
}
