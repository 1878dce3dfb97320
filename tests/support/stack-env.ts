/**
 * Where the local stack the global setup started listens (edge, SQS, queues by model and priority, as
 * `provide`d to each test file), the dev API key, and the settings a worker needs to join that stack.
 */
import { inject } from "vitest";
import { MODEL_DIR } from "./test-model.ts";

/** The dev API key of wrangler.toml (its SHA-256 is listed in API_KEYS there). */
export const API_KEY = "bd3_dev_0123456789abcdef0123456789abcdef";

export function stackAddresses() {
  return {
    edgeUrl: inject("edgeUrl"),
    sqsEndpoint: inject("sqsEndpoint"),
    queueUrl: inject("queueUrl"),
    dlqUrl: inject("dlqUrl"),
    modelQueues: inject("modelQueues"),
  };
}

/** Worker settings for the local stack (short visibility and heartbeat); SQS_QUEUE_URL unless given SQS_QUEUE_URLS. */
export function workerEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const { edgeUrl, sqsEndpoint, queueUrl } = stackAddresses();
  return {
    ...(overrides.SQS_QUEUE_URLS === undefined ? { SQS_QUEUE_URL: queueUrl } : {}),
    SQS_ENDPOINT: sqsEndpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EDGE_URL: edgeUrl,
    EDGE_MAX_ATTEMPTS: "3",
    MODEL_DIR,
    MAX_BATCH_SIZE: "4",
    INTRA_OP_NUM_THREADS: "1",
    VISIBILITY_TIMEOUT_SECONDS: "4",
    HEARTBEAT_INTERVAL_SECONDS: "1",
    RECEIVE_WAIT_SECONDS: "1",
    METRICS_PORT: "0",
    METRICS_HOST: "127.0.0.1",
    SHUTDOWN_GRACE_SECONDS: "15",
    LOG_LEVEL: process.env.TEST_WORKER_LOG_LEVEL ?? "error",
    ...overrides,
  };
}
