import { isTerminalJobStatus } from "@bd3-serve/shared";
import { TOMBSTONE_MS } from "../config/constants.ts";
import { tenantIndexStub } from "../tenant/tenant-index-stub.ts";
import { DOCUMENT_STREAM } from "./job-document.ts";
import type { JobRecord } from "./job-record.ts";
import type { JobBindings, JobContent, JobContext, JobRows, JobTasks, JobWebhooks } from "./job-seams.ts";
import { retentionMsOf } from "./job-view.ts";
import { TASK } from "./tasks.ts";

/** What retention uses of a job: everything it deletes, and the deletion of the object's storage itself. */
export interface RetentionParts extends JobContext, JobRows, JobTasks, JobBindings, JobWebhooks {
  readonly document: Pick<JobContent["document"], "purge">;
  readonly blocks: Pick<JobContent["blocks"], "purge">;
  readonly notifier: Pick<JobContent["notifier"], "notify">;
  /** Deletes the object's storage and alarm for good (JobCore.erase). */
  erase(): Promise<void>;
}

/**
 * The `retention` task, in two steps. First, `retentionMs` after the job finished, its text is deleted
 * (document, block log, webhook bodies) and the job row marked purged: every read answers 410 from then on,
 * which tells a client the text existed and is gone. Then, TOMBSTONE_MS later, the object is deleted for
 * good (storage, alarm, index row): the id is a 404 and its Idempotency-Key may be used again. True when
 * the object is now empty.
 */
export async function runRetention(parts: RetentionParts, job: JobRecord): Promise<boolean> {
  const { schedule } = parts;
  if (!isTerminalJobStatus(job.status)) {
    schedule.clear(TASK.retention);
    return false;
  }
  const now = parts.now();
  if (job.purgedAt === null) {
    const purgeAt = (job.finishedAt ?? now) + retentionMsOf(job, parts.config);
    if (now < purgeAt) {
      schedule.set(TASK.retention, purgeAt);
      return false;
    }
    parts.document.purge();
    parts.blocks.purge();
    parts.outbox.purge("the job's retention period ended", now);
    parts.update({ purgedAt: now });
    schedule.set(TASK.retention, now + TOMBSTONE_MS);
    parts.notifier.notify(DOCUMENT_STREAM);
    return false;
  }
  if (now < job.purgedAt + TOMBSTONE_MS) {
    schedule.set(TASK.retention, job.purgedAt + TOMBSTONE_MS);
    return false;
  }
  await tenantIndexStub(parts.env, job.tenantId).remove(job.id);
  await parts.erase();
  return true;
}
