import type { EdgeConfig } from "../config/config.ts";
import type { Env } from "../env.ts";
import type { StreamNotifier } from "../stream/index.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import type { BlockLog } from "./block-log.ts";
import type { JobDocument } from "./job-document.ts";
import type { JobRecord } from "./job-record.ts";
import type { Schedule } from "./schedule.ts";
import type { JobTransition } from "./state-machine.ts";

/**
 * The seams between the parts of a job object, one small interface per concern (see README.md here). JobCore
 * (job-core.ts) implements or composes every one; each worker call, alarm task, read and side effect takes
 * only the ones it uses, so it can be run against a fake of those alone. Types only: the files on both
 * sides of a seam import this one, never each other.
 */

/** Settings and time, which nearly every part reads. */
export interface JobContext {
  readonly config: EdgeConfig;
  now(): number;
}

/** The bindings, for the parts that call other objects or count metrics. */
export interface JobBindings {
  readonly env: Env;
}

/** The store: the job's one row (job-store.ts behind it). */
export interface JobRows {
  /** The row (any tenant); a pre-document object's blocks are moved into its document first. */
  readJob(): JobRecord | null;
  /** The row, only for its own tenant: another tenant's job does not exist for them. */
  jobFor(tenantId: string): JobRecord | null;
  /** Writes `patch` to the row; a status change goes through `JobLifecycle.transition` instead. */
  update(patch: Partial<JobRecord>): void;
}

/** The schedule: named tasks with a due time, one storage alarm at the earliest (schedule.ts). */
export type TaskSchedule = Pick<Schedule, "set" | "setMany" | "clear" | "dueAt" | "due" | "arm" | "armNew">;

export interface JobTasks {
  readonly schedule: TaskSchedule;
}

/** Status changes (transitions.ts): the state machine, with the schedule rows and terminal work they imply. */
export interface JobLifecycle extends JobContext, JobRows, JobTasks {
  /** The job after `transition` with `patch` applied, or null when the state machine refuses it. */
  transition(job: JobRecord, transition: JobTransition, patch?: Partial<JobRecord>): JobRecord | null;
}

/** The content: the document stream, its block log, and the wake-up of the document's live readers. */
export interface JobContent {
  readonly document: JobDocument;
  readonly blocks: BlockLog;
  readonly notifier: StreamNotifier;
}

/** The webhook outbox (webhooks/outbox.ts): deliveries are rows, each with its schedule task. */
export interface JobWebhooks {
  readonly outbox: WebhookOutbox;
}

/** What a view of the job reads beyond its row (job-view.ts). */
export interface ViewSources extends JobContext {
  readonly document: Pick<JobDocument, "byteLength" | "text">;
  readonly outbox: Pick<WebhookOutbox, "status">;
}

/**
 * The side effects outside the object (side-effects.ts): the tenant index, the queue ledger, SQS, and work
 * that runs after a call answered. Each one's durable intent is a schedule row, so these may fail.
 */
export interface JobSideEffects {
  /** Runs the side effects that are due now (index sync, ledger) and re-arms the alarm for the rest. */
  settle(): Promise<void>;
  syncIndex(job: JobRecord): Promise<void>;
  syncLedger(job?: JobRecord | null): Promise<void>;
  enqueue(job: JobRecord): Promise<void>;
  /** Runs `work` after the current call has answered; a failure is logged (its durable intent remains). */
  inBackground(work: Promise<void>): void;
  /** Resolves once no background work is running. */
  idle(): Promise<void>;
}

export interface WithSideEffects {
  readonly effects: JobSideEffects;
}
