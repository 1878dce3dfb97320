import { ALARM_TASK_RETRY_MS, ENQUEUE_RETRY_DELAYS_MS, ENQUEUE_TIMEOUT_MS } from "../config/constants.ts";
import { queueUrlFor } from "../config/sqs-queues.ts";
import { countEvent } from "../observability/metrics.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import { buildJobMessage, jobPriority } from "./job-message.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobBindings, JobLifecycle, JobSideEffects } from "./job-seams.ts";
import { syncLedger } from "./ledger-sync.ts";
import { TASK } from "./tasks.ts";

/** What the side effects use of a job: its row and status changes, the bindings, and where messages go. */
export interface SideEffectParts extends JobLifecycle, JobBindings {
  readonly jobQueue: JobQueue;
}

/**
 * The side effects of one job object outside it: the tenant index row, the queue ledger's ticket, the SQS
 * message, and the work that runs after a call answered (`inBackground`).
 *
 * Each side effect has its durable intent in a schedule row, written in the same synchronous step as the
 * change that caused it (transitions.ts, the create); `settle` runs what is due at once and re-arms the
 * alarm, and whatever fails here stays scheduled, so an outage delays a side effect but never loses it.
 * State: only the background work in flight (in memory: it dies with the object, its intent does not).
 */
export class SideEffects implements JobSideEffects {
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly parts: SideEffectParts,
    private readonly waitUntil: (work: Promise<void>) => void,
  ) {}

  async settle(): Promise<void> {
    const job = this.parts.readJob();
    if (job === null) return;
    const { schedule } = this.parts;
    await Promise.all([
      schedule.dueAt(TASK.indexSync) !== null ? this.syncIndex(job) : undefined,
      schedule.dueAt(TASK.ledger) !== null ? this.syncLedger(job) : undefined,
    ]);
    await schedule.arm();
  }

  async syncIndex(job: JobRecord): Promise<void> {
    const { parts } = this;
    try {
      await tenantIndexStub(parts.env, job.tenantId).upsert({
        jobId: job.id,
        status: job.status,
        statusVersion: job.statusVersion,
        createdAt: job.createdAt,
        usage: job.usage,
        finishedAt: job.finishedAt,
      });
      parts.schedule.clear(TASK.indexSync);
    } catch (error) {
      console.warn(JSON.stringify({ event: "index_sync_failed", job_id: job.id, error: String(error) }));
      parts.schedule.set(TASK.indexSync, parts.now() + ALARM_TASK_RETRY_MS);
    }
  }

  syncLedger(job?: JobRecord | null): Promise<void> {
    return syncLedger(this.parts, job);
  }

  /**
   * One SQS send. Success clears the `enqueue` task; a failure schedules the next try, and after the last
   * one the job fails with `enqueue_failed` (it is never left queued with no message behind it).
   */
  async enqueue(job: JobRecord): Promise<void> {
    const { parts } = this;
    const { schedule, config, env } = parts;
    if (job.status !== "queued") {
      schedule.clear(TASK.enqueue);
      return;
    }
    const attempts = job.enqueueAttempts + 1;
    // The retry if this send never returns (the object dies mid-call). A new job's create already scheduled
    // it that far ahead, so its first send writes nothing before the call.
    const retryAtMs = parts.now() + ENQUEUE_TIMEOUT_MS * 2;
    if ((schedule.dueAt(TASK.enqueue) ?? 0) < retryAtMs - ENQUEUE_TIMEOUT_MS) schedule.set(TASK.enqueue, retryAtMs);
    try {
      const queueUrl = queueUrlFor(config.sqs!, job.model, jobPriority(job));
      if (queueUrl === null) throw new Error(`no queue for model '${job.model}' (SQS_QUEUES)`);
      await parts.jobQueue.send(await buildJobMessage(config, job, parts.now()), queueUrl);
      parts.update({ enqueueAttempts: attempts, enqueuedAt: parts.now() });
      schedule.clear(TASK.enqueue);
      countEvent(env, "queue_sends", "ok", { tenantId: job.tenantId });
    } catch (error) {
      const message = String(error).slice(0, 500);
      console.warn(JSON.stringify({ event: "enqueue_failed", job_id: job.id, attempts, error: message }));
      countEvent(env, "queue_sends", "failed", { tenantId: job.tenantId });
      const current = parts.readJob();
      if (current === null) return;
      parts.update({ enqueueAttempts: attempts });
      const delay = ENQUEUE_RETRY_DELAYS_MS[attempts - 1];
      if (delay !== undefined) {
        schedule.set(TASK.enqueue, parts.now() + delay);
        return;
      }
      schedule.clear(TASK.enqueue);
      parts.transition({ ...current, enqueueAttempts: attempts }, "fail", {
        finishReason: "error",
        error: { code: "enqueue_failed", message: `the job could not be queued after ${attempts} attempts` },
      });
    }
  }

  inBackground(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      console.error(JSON.stringify({ event: "background_failed", error: String(error) }));
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
    this.waitUntil(tracked);
  }

  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all(this.background);
  }
}
