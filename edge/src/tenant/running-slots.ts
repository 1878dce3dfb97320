import type { RunningStart, RunningStartRequest } from "./tenant-index-rpc.ts";

/**
 * The tenant side of the `max_running_jobs` quota, in the tenant's index object: a job's lease asks here
 * before it starts the job (tenant/running-admission.ts). One writer per tenant and one synchronous SQLite step
 * per call (count, then mark), so two leases of the tenant's jobs at once can never both take the last slot.
 *
 * Storage: none of its own. The count is the index's `jobs` rows with status 'running'; a granted start
 * marks the job's row 'running' at the status_version the job had while queued, so the job's own index sync
 * of the lease (the next version) overwrites it as usual, and a late sync of the queued version does not undo
 * it. A slot frees when the job's end (or requeue) reaches the index, which the worker's `finish` waits for.
 * Trade-off: a job object that dies between the grant and its lease leaves its row 'running' until the job
 * changes status (its next lease is granted again, as an already running job; expiry ends it), so such a
 * slot is held for at most the job's queue deadline.
 */

/** Counts the tenant's running jobs and either marks this one running (granted) or refuses at `max`. */
export function tryStartRunning(sql: SqlStorage, request: RunningStartRequest): RunningStart {
  const { jobId, max, statusVersion, createdAt } = request;
  const row = sql.exec<{ status: string }>("SELECT status FROM jobs WHERE job_id = ?", jobId).toArray()[0];
  const others = Number(
    sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running' AND job_id != ?", jobId)
      .toArray()[0]?.n ?? 0,
  );
  // Already counted as running (a retried lease whose first reply was lost): granted again, counted once.
  if (row?.status === "running") return { ok: true, running: others + 1 };
  if (others >= max) return { ok: false, running: others };
  sql.exec(
    `INSERT INTO jobs (job_id, status, status_version, created_at) VALUES (?, 'running', ?, ?)
     ON CONFLICT (job_id) DO UPDATE SET status = 'running', status_version = excluded.status_version
     WHERE excluded.status_version >= jobs.status_version`,
    jobId,
    statusVersion,
    createdAt,
  );
  return { ok: true, running: others + 1 };
}
