import { isTerminalJobStatus, type JobStatus, type JobView, type WebhookEventType } from "@bd3-serve/shared";
import { ALARM_TASK_RETRY_MS, WEBHOOK_BODY_MAX_BYTES } from "../config/constants.ts";
import type { StreamNotifier } from "../stream/index.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import type { JobDocument } from "./job-document.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobContext, JobTasks, ViewSources } from "./job-seams.ts";
import { viewOf } from "./job-view.ts";
import { type JobTransition, nextStatus } from "./state-machine.ts";
import { TASK } from "./tasks.ts";
import type { TerminalWaiters } from "./terminal-waiters.ts";

/**
 * Every status change of a job, in one synchronous step that also writes the durable intent of its side
 * effects as schedule rows (`index_sync`, `ledger`, webhook deliveries, `retention`); side-effects.ts then
 * runs what can run at once, and the alarm the rest, so a crash delays a side effect but never loses it.
 */

/** What a transition touches: the row, the schedule, and on a terminal status the document and outbox. */
export interface TransitionParts extends JobContext, JobTasks, ViewSources {
  update(patch: Partial<JobRecord>): void;
  readonly document: Pick<JobDocument, "byteLength" | "text" | "close">;
  readonly outbox: Pick<WebhookOutbox, "status" | "add">;
  readonly notifier: Pick<StreamNotifier, "notify">;
  readonly terminal: Pick<TerminalWaiters, "wakeAll">;
}

const TERMINAL_EVENT: Partial<Record<JobStatus, WebhookEventType>> = {
  succeeded: "generation.completed",
  failed: "generation.failed",
  expired: "generation.expired",
  canceled: "generation.canceled",
};

const encoder = new TextEncoder();

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

/**
 * Applies a transition with extra fields; null when the state machine refuses it. A status change
 * schedules the tenant index update; reaching a terminal status runs `finalize`.
 */
export function applyTransition(
  parts: TransitionParts,
  job: JobRecord,
  transition: JobTransition,
  patch: Partial<JobRecord> = {},
): JobRecord | null {
  const status = nextStatus(job.status, transition);
  if (status === null) return null;
  const now = parts.now();
  const changed = status !== job.status;
  const full: Partial<JobRecord> = { ...patch, status, statusVersion: job.statusVersion + (changed ? 1 : 0) };
  if (isTerminalJobStatus(status)) full.finishedAt = now;
  parts.update(full);
  const updated = { ...job, ...full };
  if (changed) parts.schedule.set(TASK.indexSync, now + ALARM_TASK_RETRY_MS);
  // Leaving the queue for the first time (leased, or ended while queued) settles its ledger ticket.
  if (job.status === "queued" && changed && job.startedAt === null) parts.schedule.set(TASK.ledger, now);
  if (isTerminalJobStatus(status)) finalize(parts, updated, now);
  return updated;
}

/**
 * A terminal status: the document closes (readers see `Stream-Closed` / `done`), the terminal webhook is
 * queued (text inline up to INLINE_TEXT_MAX_BYTES, else only `urls.text`), retention starts.
 */
function finalize(parts: TransitionParts, job: JobRecord, now: number): void {
  for (const task of [TASK.stall, TASK.expire, TASK.enqueue, TASK.cancelDeadline]) parts.schedule.clear(task);
  parts.schedule.set(TASK.retention, now + (job.retentionMs ?? parts.config.retentionMs));
  parts.document.close();
  const eventType = TERMINAL_EVENT[job.status];
  if (job.webhook && eventType && job.webhook.events.includes(eventType)) {
    parts.outbox.add(eventType, terminalEventBody(eventType, now, viewOf(parts, job)), now);
  }
  parts.notifier.notify(DOCUMENT_STREAM);
  parts.terminal.wakeAll();
}
