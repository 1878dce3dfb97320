/** Settings and a scheduler flush shared by the tests that run a whole worker on fakes (fakes.ts). */

/** Worker settings for a worker whose queue, edge and engine are fakes: only their shapes matter. */
export const FAKE_WORKER_ENV = {
  SQS_QUEUE_URL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs",
  SQS_ENDPOINT: "http://127.0.0.1:4566",
  AWS_REGION: "us-east-1",
  EDGE_URL: "http://edge.test",
  MODEL_DIR: "unused",
  MAX_BATCH_SIZE: "2",
  VISIBILITY_TIMEOUT_SECONDS: "60",
  HEARTBEAT_INTERVAL_SECONDS: "20",
  METRICS_PORT: "0",
  METRICS_HOST: "127.0.0.1",
  RECEIVE_WAIT_SECONDS: "1",
};

/** Lets real setImmediate-driven work (the engine loop, promise chains) run; fake timers do not move. */
export async function flush(rounds = 30): Promise<void> {
  for (let round = 0; round < rounds; round++) await new Promise((resolve) => setImmediate(resolve));
}
