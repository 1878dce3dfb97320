import { ALARM_TASK_RETRY_MS } from "../config/constants.ts";
import { queueLedgerStub } from "../queue/queue-ledger-stub.ts";
import { jobPriority } from "./job-message.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobBindings, JobContext, JobRows, JobTasks } from "./job-seams.ts";
import { TASK } from "./tasks.ts";

/** What the ledger sync uses of a job: its row, the `ledger` task, and the ledger's binding. */
export interface LedgerSyncParts extends JobContext, JobRows, JobTasks, JobBindings {}

/**
 * The `ledger` task (its schedule row is the durable intent, retried by the alarm): a new queued job takes
 * its ticket in the ledger of its (model, priority) queue; a job that left the queue (leased, or ended while
 * queued) settles it. Runs after the create answered (like the tenant index sync), never on its path.
 */
export async function syncLedger(parts: LedgerSyncParts, job: JobRecord | null = parts.readJob()): Promise<void> {
  const ledger = job === null ? null : queueLedgerStub(parts.env, job.model, jobPriority(job));
  if (job === null || ledger === null) {
    parts.schedule.clear(TASK.ledger);
    return;
  }
  try {
    let ticket = job.queueTicket;
    if (ticket === null) {
      if (job.status !== "queued" || job.startedAt !== null) {
        parts.schedule.clear(TASK.ledger);
        return;
      }
      const startByMs = job.startByAt ?? job.createdAt + parts.config.queueDeadlineMs;
      ticket = (await ledger.take({ jobId: job.id, startByMs })).ticket;
      parts.update({ queueTicket: ticket });
    }
    // Re-read: the job may have been leased or ended while the take was in flight.
    const current = parts.readJob();
    if (current !== null && current.status !== "queued") {
      await ledger.settle({ ticket, isStarted: current.startedAt !== null });
    }
    parts.schedule.clear(TASK.ledger);
  } catch (error) {
    console.warn(JSON.stringify({ event: "ledger_sync_failed", job_id: job.id, error: String(error) }));
    parts.schedule.set(TASK.ledger, parts.now() + ALARM_TASK_RETRY_MS);
  }
}
