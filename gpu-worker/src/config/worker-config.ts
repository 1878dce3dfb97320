/**
 * The settings the runtime reads, grouped by concern (queue, edge, engine, metrics, fleet), built once from the
 * validated environment (schema.ts, which names and checks every variable). Plain data; nothing here reads the
 * environment itself.
 */
import type { WorkerEnv } from "./schema.ts";

/** The settings the runtime uses, grouped by concern. */
export interface WorkerConfig {
  workerId: string;
  queue: {
    /** The queues this worker takes jobs from, highest priority first (one: SQS_QUEUE_URL). */
    queueUrls: string[];
    /** Receive policy with several queues (runtime/queue/priority-queues.ts). */
    lowestFirstEveryRounds: number;
    priorityReceiveWaitSeconds: number;
    dlqUrl: string | undefined;
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
    visibilityTimeoutSeconds: number;
    heartbeatIntervalSeconds: number;
    receiveWaitSeconds: number;
    maxReceiveCount: number | undefined;
    continuationMarginSeconds: number;
  };
  edge: {
    baseUrl: string;
    requestTimeoutMs: number;
    maxAttempts: number;
    /** The Cloudflare Access service token sent on every edge call; undefined: none is sent. */
    accessServiceToken: { clientId: string; clientSecret: string } | undefined;
    blockStreamLingerMs: number | undefined;
    blockStreamMaxInFlight: number | undefined;
  };
  engine: {
    modelDir: string;
    modelName: string | undefined;
    dtype: "float32" | "float16" | undefined;
    executionProviders: WorkerEnv["EXECUTION_PROVIDERS"];
    /** ALLOW_CPU_FALLBACK: serve on the CPU when the GPU providers asked for did not load. */
    allowCpuFallback: boolean;
    intraOpNumThreads: number | undefined;
    samplerThreads: number | undefined;
    devicePast: WorkerEnv["DEVICE_PAST"];
    maxBatchSize: number;
    kvBudgetBytes: number | undefined;
  };
  metrics: { port: number; host: string };
  /** ECS task scale-in protection; `ecsAgentUri` undefined outside ECS (then nothing is called). */
  fleet: { ecsAgentUri: string | undefined; taskProtectionExpiresInMinutes: number };
  shutdownGraceSeconds: number;
  logLevel: WorkerEnv["LOG_LEVEL"];
}

export function toWorkerConfig(env: WorkerEnv): WorkerConfig {
  return {
    workerId: env.WORKER_ID,
    queue: {
      queueUrls: env.SQS_QUEUE_URLS ?? [env.SQS_QUEUE_URL ?? ""],
      lowestFirstEveryRounds: env.RECEIVE_LOWEST_FIRST_EVERY_ROUNDS,
      priorityReceiveWaitSeconds: env.PRIORITY_RECEIVE_WAIT_SECONDS,
      dlqUrl: env.SQS_DLQ_URL,
      endpoint: env.SQS_ENDPOINT ?? `https://sqs.${env.AWS_REGION}.amazonaws.com`,
      region: env.AWS_REGION,
      credentials:
        env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_SECRET_ACCESS_KEY !== undefined
          ? {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN !== undefined ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            }
          : undefined,
      visibilityTimeoutSeconds: env.VISIBILITY_TIMEOUT_SECONDS,
      heartbeatIntervalSeconds: env.HEARTBEAT_INTERVAL_SECONDS,
      receiveWaitSeconds: env.RECEIVE_WAIT_SECONDS,
      maxReceiveCount: env.MAX_RECEIVE_COUNT,
      continuationMarginSeconds: env.CONTINUATION_MARGIN_SECONDS,
    },
    edge: {
      baseUrl: env.EDGE_URL.replace(/\/+$/, ""),
      requestTimeoutMs: env.EDGE_REQUEST_TIMEOUT_MS,
      maxAttempts: env.EDGE_MAX_ATTEMPTS,
      accessServiceToken:
        env.CF_ACCESS_CLIENT_ID !== undefined && env.CF_ACCESS_CLIENT_SECRET !== undefined
          ? { clientId: env.CF_ACCESS_CLIENT_ID, clientSecret: env.CF_ACCESS_CLIENT_SECRET }
          : undefined,
      blockStreamLingerMs: env.BLOCK_STREAM_LINGER_MS,
      blockStreamMaxInFlight: env.BLOCK_STREAM_MAX_IN_FLIGHT,
    },
    engine: {
      modelDir: env.MODEL_DIR,
      modelName: env.MODEL_NAME,
      dtype: env.MODEL_DTYPE,
      executionProviders: env.EXECUTION_PROVIDERS,
      allowCpuFallback: env.ALLOW_CPU_FALLBACK,
      intraOpNumThreads: env.INTRA_OP_NUM_THREADS,
      samplerThreads: env.SAMPLER_THREADS,
      devicePast: env.DEVICE_PAST,
      maxBatchSize: env.MAX_BATCH_SIZE,
      kvBudgetBytes: env.KV_BUDGET_BYTES,
    },
    metrics: { port: env.METRICS_PORT, host: env.METRICS_HOST },
    fleet: { ecsAgentUri: env.ECS_AGENT_URI, taskProtectionExpiresInMinutes: env.TASK_PROTECTION_EXPIRES_IN_MINUTES },
    shutdownGraceSeconds: env.SHUTDOWN_GRACE_SECONDS,
    logLevel: env.LOG_LEVEL,
  };
}
