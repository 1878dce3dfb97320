import {
  INLINE_TEXT_MAX_BYTES,
  isTerminalJobStatus,
  type JobStatus,
  type JobSummary,
  type JobView,
  type WebhookEventType,
} from "@bd3-serve/shared";
import { type EdgeConfig, readConfig } from "../config/config.ts";
import {
  ALARM_TASK_RETRY_MS,
  ENQUEUE_RETRY_DELAYS_MS,
  ENQUEUE_TIMEOUT_MS,
  WEBHOOK_BODY_MAX_BYTES,
} from "../config/constants.ts";
import { queueUrlFor } from "../config/sqs-queues.ts";
import type { Env } from "../env.ts";
import { countEvent } from "../observability/metrics.ts";
import { type JobQueue, sharedSqsJobQueue } from "../queue/job-queue.ts";
import { StreamNotifier } from "../stream/index.ts";
import { STREAM_TABLES_SQL } from "../stream/stream-tables.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import { DELIVERIES_TABLE_SQL, WebhookOutbox } from "../webhooks/outbox.ts";
import { BlockLog } from "./block-log.ts";
import { type Clock, systemClock } from "./clock.ts";
import { DOCUMENT_STREAM, JobDocument } from "./job-document.ts";
import { buildJobMessage, jobPriority } from "./job-message.ts";
import { JOB_TABLES_SQL, type JobRecord, JobStore } from "./job-store.ts";
import { toJobSummary, toJobView, type ViewFacts } from "./job-view.ts";
import { NO_PLACE, syncLedger, type ViewPlace } from "./queue-place.ts";
import { ReaderSlots } from "./reader-slots.ts";
import { Schedule } from "./schedule.ts";
import { type JobTransition, nextStatus } from "./state-machine.ts";

/** Names of the non-delivery tasks in the schedule table. */
export const TASK = {
  enqueue: "enqueue",
  indexSync: "index_sync",
  stall: "stall",
  expire: "expire",
  cancelDeadline: "cancel_deadline",
  /** `timeout_seconds` after the job started: a cancel request (the worker stops, committed blocks kept). */
  timeout: "timeout",
  retention: "retention",
  /** Take the job's ticket in its queue ledger, or settle it once the job left the queue (queue-place.ts). */
  ledger: "ledger",
} as const;

const TERMINAL_EVENT: Partial<Record<JobStatus, WebhookEventType>> = {
  succeeded: "generation.completed",
  failed: "generation.failed",
  expired: "generation.expired",
  canceled: "generation.canceled",
};

/**
 * A terminal event's body. The outbox keeps it in one row, so it must stay far below the 2 MB row cap:
 * JSON escaping can make inline text several times larger than its bytes, so above WEBHOOK_BODY_MAX_BYTES
 * the text is left out (the receiver reads `data.urls.text`).
 */
function terminalEventBody(eventType: WebhookEventType, nowMs: number, view: JobView): string {
  const timestamp = new Date(nowMs).toISOString();
  const body = JSON.stringify({ type: eventType, timestamp, data: view });
  if (encoder.encode(body).byteLength <= WEBHOOK_BODY_MAX_BYTES) return body;
  return JSON.stringify({ type: eventType, timestamp, data: { ...view, text: null } });
}

const encoder = new TextEncoder();

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
  readonly document: JobDocument;
  readonly blocks: BlockLog;
  /** Wakes the document's live readers (text stream, SSE block events) after an append or the end. */
  readonly notifier = new StreamNotifier();
  /** Live readers of this job (in memory: they die with the object), capped by live-readers.ts. */
  readonly readers = new ReaderSlots();
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
    this.document = JobDocument.on(ctx.storage.sql);
    this.blocks = new BlockLog(ctx.storage.sql, this.document);
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
    this.document.streams.ensureSchema();
  }

  /**
   * A create's tables. A new object (no `job` table: every create without an Idempotency-Key, and a key's
   * first) gets all of them in one batch and is known to hold nothing, so its create probes nothing; true
   * then. An existing object keeps the idempotent path (false): its job is read and compared.
   */
  createTablesIfNew(): boolean {
    if (this.store.hasSchema()) {
      this.ensureSchema();
      return false;
    }
    this.ctx.storage.sql.exec(`${JOB_TABLES_SQL}\n${DELIVERIES_TABLE_SQL}\n${STREAM_TABLES_SQL}`);
    this.store.markCreated();
    this.document.streams.markCreated();
    return true;
  }

  /**
   * The job, only for its own tenant: another tenant's job does not exist for them. Objects from before the
   * document stream are migrated here, on their first read.
   */
  jobFor(tenantId: string): JobRecord | null {
    const job = this.readJob();
    return job && job.tenantId === tenantId ? job : null;
  }

  /** The job row (any tenant), with a pre-document object's blocks moved into its document first. */
  readJob(): JobRecord | null {
    const job = this.store.read();
    if (job !== null && !this.document.exists() && job.purgedAt === null) {
      this.document.streams.ensureSchema();
      this.document.create(job.createdAt);
      this.blocks.migrateLegacy();
      if (isTerminalJobStatus(job.status)) this.document.close();
    }
    return job;
  }

  viewFacts(job: JobRecord): ViewFacts {
    return {
      textBytes: this.document.byteLength(),
      retentionMs: job.retentionMs ?? this.config.retentionMs,
      webhookStatus: job.webhook === null ? null : this.outbox.status(),
      startByAt: job.startByAt ?? job.createdAt + this.config.queueDeadlineMs,
    };
  }

  summaryOf(job: JobRecord): JobSummary {
    return toJobSummary(job, this.viewFacts(job));
  }

  /**
   * The view, text inline when it is at most INLINE_TEXT_MAX_BYTES (null beyond: read `urls.text`); `place`
   * is a queued job's place in its queue (queue-place.ts `queuePlaceOf`), none by default.
   */
  viewOf(job: JobRecord, place: ViewPlace = NO_PLACE): JobView {
    const facts = this.viewFacts(job);
    const text = facts.textBytes <= INLINE_TEXT_MAX_BYTES ? this.document.text(0, facts.textBytes) : null;
    return toJobView(job, facts, text, place);
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
    // Leaving the queue for the first time (leased, or ended while queued) settles its ledger ticket.
    if (job.status === "queued" && changed && job.startedAt === null) this.schedule.set(TASK.ledger, now);
    if (isTerminalJobStatus(status)) this.finalize(updated, now);
    return updated;
  }

  /**
   * A terminal status: the document closes (readers see `Stream-Closed` / `done`), the terminal webhook is
   * queued (text inline up to INLINE_TEXT_MAX_BYTES, else only `urls.text`), retention starts.
   */
  private finalize(job: JobRecord, now: number): void {
    for (const task of [TASK.stall, TASK.expire, TASK.enqueue, TASK.cancelDeadline]) this.schedule.clear(task);
    this.schedule.set(TASK.retention, now + (job.retentionMs ?? this.config.retentionMs));
    this.document.close();
    const eventType = TERMINAL_EVENT[job.status];
    if (job.webhook && eventType && job.webhook.events.includes(eventType)) {
      this.outbox.add(eventType, terminalEventBody(eventType, now, this.viewOf(job)), now);
    }
    this.notifier.notify(DOCUMENT_STREAM);
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
    const job = this.readJob();
    if (job === null) return;
    await Promise.all([
      this.schedule.dueAt(TASK.indexSync) !== null ? this.syncIndex(job) : undefined,
      this.schedule.dueAt(TASK.ledger) !== null ? syncLedger(this, job) : undefined,
    ]);
    await this.schedule.arm();
  }

  async syncIndex(job: JobRecord): Promise<void> {
    try {
      await tenantIndexStub(this.env, job.tenantId).upsert({
        jobId: job.id,
        status: job.status,
        statusVersion: job.statusVersion,
        createdAt: job.createdAt,
        usage: job.usage,
        finishedAt: job.finishedAt,
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
    // The retry if this send never returns (the object dies mid-call). A new job's create already scheduled
    // it that far ahead, so its first send writes nothing before the call.
    const retryAtMs = this.now() + ENQUEUE_TIMEOUT_MS * 2;
    if ((this.schedule.dueAt(TASK.enqueue) ?? 0) < retryAtMs - ENQUEUE_TIMEOUT_MS) {
      this.schedule.set(TASK.enqueue, retryAtMs);
    }
    try {
      const queueUrl = queueUrlFor(this.config.sqs!, job.model, jobPriority(job));
      if (queueUrl === null) throw new Error(`no queue for model '${job.model}' (SQS_QUEUES)`);
      await this.jobQueue.send(await buildJobMessage(this.config, job, this.now()), queueUrl);
      this.store.update({ enqueueAttempts: attempts, enqueuedAt: this.now() });
      this.schedule.clear(TASK.enqueue);
      countEvent(this.env, "queue_sends", "ok", { tenantId: job.tenantId });
    } catch (error) {
      const message = String(error).slice(0, 500);
      console.warn(JSON.stringify({ event: "enqueue_failed", job_id: job.id, attempts, error: message }));
      countEvent(this.env, "queue_sends", "failed", { tenantId: job.tenantId });
      const current = this.readJob();
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
