/**
 * A stand-in GPU worker for whole-stack tests that need documents far longer than the demo model writes in
 * test time (tests/support/synthetic-job.ts, bound to this run's stack): it takes the job's message from the
 * real queue, leases the job and writes synthetic blocks through the worker's own edge client, then finishes.
 */
import { stackAddresses } from "./stack.ts";
import { leaseJob, receiveJobMessages, type SyntheticJob } from "./synthetic-job.ts";

export { finishJob, openWriter, type SyntheticJob, writeBlocks } from "./synthetic-job.ts";

/** Receives messages until the one of `jobId` arrives (others become visible again), deletes it, leases. */
export async function takeJob(jobId: string, workerId = "synthetic-worker"): Promise<SyntheticJob> {
  const addresses = stackAddresses();
  const message = (await receiveJobMessages(addresses, [jobId])).get(jobId);
  if (message === undefined) throw new Error(`no queue message for ${jobId}`);
  return leaseJob(addresses, message, workerId);
}
