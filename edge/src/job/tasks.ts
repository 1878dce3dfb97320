/**
 * Names of the non-delivery tasks in a job object's schedule table (schedule.ts; deliveries are
 * `delivery:<id>`, webhooks/outbox.ts). A leaf: whoever writes a row and the alarm that runs it
 * (job-alarm.ts) share these names without importing each other.
 */
export const TASK = {
  enqueue: "enqueue",
  indexSync: "index_sync",
  stall: "stall",
  expire: "expire",
  cancelDeadline: "cancel_deadline",
  /** `timeout_seconds` after the job started: a cancel request (the worker stops, committed blocks kept). */
  timeout: "timeout",
  retention: "retention",
  /** Take the job's ticket in its queue ledger, or settle it once the job left the queue (ledger-sync.ts). */
  ledger: "ledger",
} as const;
