/**
 * Helpers for whole-stack tests, one import for a test file: the public API of the edge (as a client would
 * call it), the SQS queues, and workers, either in this process (`startInProcessWorker` with the real engine)
 * or as a child process (`npm run worker`'s entry, so signals and crashes are real). Each concern lives in its
 * own module, re-exported here:
 *
 *   test-model.ts      the model package the stack serves (REPO_ROOT, MODEL_DIR, MODEL_NAME)
 *   stack-env.ts       the stack's addresses, the dev API key, a worker's settings for the stack
 *   edge-api.ts        create / get / cancel / blocks, waiting for a job's state
 *   wait-for.ts        polling with a deadline
 *   queues.ts          purge, depth, waiting for empty queues
 *   workers.ts         in-process and child workers, their log lines and counters
 *   reference-runs.ts  the bare engine as the oracle: uninterrupted text, long-running seeds and jobs
 */
export {
  cancelJob,
  createJob,
  getBlocks,
  getJob,
  type JobOptions,
  type JobParams,
  waitForJob,
} from "./edge-api.ts";
export { purgeQueues, queueDepth, waitForEmptyQueues } from "./queues.ts";
export {
  createLongJob,
  findLongSeed,
  LONG_JOB_MIN_BLOCKS,
  longJobTokens,
  uninterruptedText,
} from "./reference-runs.ts";
export { API_KEY, stackAddresses, workerEnv } from "./stack-env.ts";
export { MODEL_DIR, MODEL_NAME, REPO_ROOT } from "./test-model.ts";
export { waitFor } from "./wait-for.ts";
export {
  type ChildWorker,
  counterValues,
  type InProcessWorker,
  logLines,
  spawnWorker,
  startInProcessWorker,
} from "./workers.ts";
