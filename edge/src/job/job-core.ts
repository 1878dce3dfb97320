import { isTerminalJobStatus } from "@bd3-serve/shared";
import { type EdgeConfig, readConfig } from "../config/config.ts";
import type { Env } from "../env.ts";
import { type JobQueue, sharedSqsJobQueue } from "../queue/job-queue.ts";
import { StreamNotifier } from "../stream/index.ts";
import { STREAM_TABLES_SQL } from "../stream/stream-tables.ts";
import { DELIVERIES_TABLE_SQL, WebhookOutbox } from "../webhooks/outbox.ts";
import { BlockLog } from "./block-log.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { AlarmParts } from "./job-alarm.ts";
import { JobDocument } from "./job-document.ts";
import type { JobRecord } from "./job-record.ts";
import { JOB_TABLES_SQL, JobStore } from "./job-store.ts";
import { ReaderSlots } from "./reader-slots.ts";
import { Schedule } from "./schedule.ts";
import { type SideEffectParts, SideEffects } from "./side-effects.ts";
import type { JobTransition } from "./state-machine.ts";
import { TerminalWaiters } from "./terminal-waiters.ts";
import { applyTransition, type TransitionParts } from "./transitions.ts";

/**
 * The parts of one job object, built once per object and shared by its RPC methods and its alarm: the
 * store (the job row), the schedule, the outbox, the document and its block log, the live readers, the
 * terminal waiters and the side effects. It implements every seam of job-seams.ts, and each worker call,
 * task and read takes only the seams it needs (see README.md here).
 *
 * State: the SQLite storage behind the parts, plus in memory what dies with the object anyway (live readers,
 * waiters, background work, the queue client). Every status change goes through `transition`
 * (transitions.ts), which writes the durable intent of its side effects as schedule rows in the same step.
 */
export class JobCore implements AlarmParts, SideEffectParts, TransitionParts {
  readonly store: JobStore;
  readonly schedule: Schedule;
  readonly outbox: WebhookOutbox;
  readonly document: JobDocument;
  readonly blocks: BlockLog;
  /** Wakes the document's live readers (text stream, SSE block events) after an append or the end. */
  readonly notifier = new StreamNotifier();
  /** Live readers of this job (in memory: they die with the object), capped by live-readers.ts. */
  readonly readers = new ReaderSlots();
  /** Callers of JobObject.waitForTerminal, woken by the terminal transition. */
  readonly terminal = new TerminalWaiters();
  readonly effects: SideEffects;
  clock: Clock = systemClock;
  /** Test seam: where job messages go (SQS unless replaced). */
  queueFactory: (config: EdgeConfig) => JobQueue = (config) => sharedSqsJobQueue(config.sqs!);
  private queue: JobQueue | null = null;

  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
  ) {
    this.store = new JobStore(ctx.storage.sql);
    this.schedule = new Schedule(ctx.storage);
    this.outbox = new WebhookOutbox(ctx.storage.sql, this.schedule);
    this.document = JobDocument.on(ctx.storage.sql);
    this.blocks = new BlockLog(ctx.storage.sql, this.document);
    this.effects = new SideEffects(this, (work) => ctx.waitUntil(work));
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

  update(patch: Partial<JobRecord>): void {
    this.store.update(patch);
  }

  transition(job: JobRecord, transition: JobTransition, patch: Partial<JobRecord> = {}): JobRecord | null {
    return applyTransition(this, job, transition, patch);
  }

  /** Deletes the object's storage and alarm for good (the end of retention) and forgets its cached schema. */
  async erase(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.store.forget();
    this.document.streams.forget();
  }

  /** Resolves once no background work is running (tests await this instead of sleeping). */
  idle(): Promise<void> {
    return this.effects.idle();
  }
}
