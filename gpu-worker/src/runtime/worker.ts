/**
 * One worker: consumer + job runner + engine loop + DLQ watcher + health server, wired together.
 *
 * Lifecycle: `startWorker` first refuses an engine that came up on the CPU when EXECUTION_PROVIDERS asked for
 * a GPU (unless ALLOW_CPU_FALLBACK; execution-provider.ts), then reads the queue's RedrivePolicy (which also
 * proves the queue is reachable), starts the health server and begins polling. On ECS (ECS_AGENT_URI) the task
 * is protected from scale-in while the runner holds a job (fleet/ecs-task-protection.ts). `stop(deadline)` is
 * the SIGTERM drain: stop receiving, let each running job append the block it is generating, release every
 * other message (visibility 0), close the engine.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { WorkerConfig } from "../config/worker-config.ts";
import type { Engine } from "../engine/index.ts";
import { Consumer } from "./consumer/consumer.ts";
import { createDlqWatcher } from "./dlq/dlq-watcher.ts";
import { createEdgeClient, type EdgeClient } from "./edge/index.ts";
import { checkExecutionProvider } from "./execution-provider.ts";
import { createEcsTaskProtection, type EcsTaskProtection } from "./fleet/ecs-task-protection.ts";
import { EngineLoop } from "./jobs/engine-loop.ts";
import { JobRunner } from "./jobs/job-runner.ts";
import { type HealthServer, type HealthState, startHealthServer } from "./observability/health-server.ts";
import type { Logger } from "./observability/logger.ts";
import { createWorkerMetrics, type WorkerMetrics } from "./observability/metrics.ts";
import { createSqsClient, createSqsJobQueue, type JobQueue } from "./queue/job-queue.ts";
import { PriorityQueues } from "./queue/priority-queues.ts";

/** Part of the grace period kept for releasing messages after the blocks in flight, in milliseconds. */
export const RELEASE_RESERVE_MS_MAX = 5_000;

export interface WorkerDeps {
  engine: Engine;
  logger: Logger;
  /** Overrides for tests; by default built from the config. */
  sqsClient?: SQSClient;
  queue?: JobQueue;
  dlq?: JobQueue;
  edge?: EdgeClient;
  metrics?: WorkerMetrics;
  /**
   * A health server already listening (main.ts starts it before the model loads, so /readyz can say
   * "model not loaded yet") and the state it reports; otherwise the worker starts its own.
   */
  health?: { server: HealthServer; state: HealthState };
  /** Called when the engine is broken (repeated step failures): the process should drain and exit non-zero. */
  onFatal?: (error: unknown) => void;
  /** Overrides the ECS task scale-in protection built from `config.fleet` (none outside ECS). */
  taskProtection?: EcsTaskProtection;
}

export interface Worker {
  readonly metrics: WorkerMetrics;
  readonly runner: JobRunner;
  readonly healthPort: number;
  health(): HealthState;
  /** Drains until `deadlineMs` (epoch ms); resolves true when every job was let go cleanly in time. */
  stop(deadlineMs: number): Promise<boolean>;
}

/**
 * Starts polling. Rejects with `ExecutionProviderError` (before touching the queue) when the engine runs on
 * the CPU although EXECUTION_PROVIDERS asked for a GPU provider and ALLOW_CPU_FALLBACK is not set.
 */
export async function startWorker(config: WorkerConfig, deps: WorkerDeps): Promise<Worker> {
  const { engine, logger } = deps;
  const { isFallback } = checkExecutionProvider({
    asked: config.engine.executionProviders,
    active: engine.executionProvider,
    allowCpuFallback: config.engine.allowCpuFallback,
  });
  const metrics = deps.metrics ?? createWorkerMetrics({ maxBatchSize: config.engine.maxBatchSize });
  const needsSqsClient = deps.queue === undefined || (config.queue.dlqUrl !== undefined && deps.dlq === undefined);
  const ownsSqsClient = needsSqsClient && deps.sqsClient === undefined;
  const sqsClient = deps.sqsClient ?? (needsSqsClient ? createSqsClient(config.queue) : undefined);
  const queue =
    deps.queue ??
    (config.queue.queueUrls.length === 1
      ? createSqsJobQueue(sqsClient!, config.queue.queueUrls[0]!)
      : new PriorityQueues({
          queues: config.queue.queueUrls.map((url) => createSqsJobQueue(sqsClient!, url)),
          lowestFirstEveryRounds: config.queue.lowestFirstEveryRounds,
          lastWaitSecondsMax: config.queue.priorityReceiveWaitSeconds,
        }));
  const edge =
    deps.edge ??
    createEdgeClient({
      baseUrl: config.edge.baseUrl,
      requestTimeoutMs: config.edge.requestTimeoutMs,
      backoff: { maxAttempts: config.edge.maxAttempts },
      // Cloudflare Access on the edge's worker-API host (CF_ACCESS_CLIENT_ID / _SECRET): on every call, the DLQ
      // watcher's too.
      ...(config.edge.accessServiceToken !== undefined ? { accessServiceToken: config.edge.accessServiceToken } : {}),
      ...(config.edge.blockStreamLingerMs !== undefined
        ? { blockStreamLingerMs: config.edge.blockStreamLingerMs }
        : {}),
      ...(config.edge.blockStreamMaxInFlight !== undefined
        ? { blockStreamMaxInFlight: config.edge.blockStreamMaxInFlight }
        : {}),
      onRetry: (call, jobId, retry, error) => {
        metrics.edgeRetries.inc({ call });
        logger.warn({ job_id: jobId, call, retry, err: error }, "edge call failed; retrying");
      },
      onCall: (call, outcome, seconds) => metrics.edgeCalls.observe({ call, outcome }, seconds),
    });

  metrics.executionProvider.set({ name: engine.executionProvider }, 1);
  const health: HealthState = deps.health?.state ?? initialHealthState();
  health.executionProvider = engine.executionProvider;
  health.isModelLoaded = true;
  const attributes = await queue.attributes();
  health.isQueueReachable = true;
  const maxReceiveCount = config.queue.maxReceiveCount ?? attributes.maxReceiveCount;
  if (maxReceiveCount === undefined) {
    logger.warn("the queue has no RedrivePolicy and MAX_RECEIVE_COUNT is unset: a crashing job is retried forever");
  }

  // On ECS (ECS_AGENT_URI set): protected from scale-in while at least one job is held.
  const taskProtection =
    deps.taskProtection ??
    (config.fleet.ecsAgentUri !== undefined
      ? createEcsTaskProtection({
          agentUri: config.fleet.ecsAgentUri,
          expiresInMinutes: config.fleet.taskProtectionExpiresInMinutes,
          logger: logger.child({ component: "task-protection" }),
        })
      : undefined);

  const runner = new JobRunner({
    engine,
    edge,
    queue,
    metrics,
    logger,
    workerId: config.workerId,
    modelName: config.engine.modelName ?? engine.manifest.name,
    maxBatchSize: config.engine.maxBatchSize,
    visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds,
    heartbeatIntervalMs: config.queue.heartbeatIntervalSeconds * 1_000,
    maxReceiveCount,
    continuationMarginSeconds: config.queue.continuationMarginSeconds,
    onWork: () => loop.wake(),
    ...(taskProtection !== undefined ? { onHeldJobs: (heldJobs: number) => taskProtection.onHeldJobs(heldJobs) } : {}),
  });
  const loop: EngineLoop = new EngineLoop({
    engine,
    metrics,
    logger,
    maxBatchSize: config.engine.maxBatchSize,
    onOutputs: (outputs) => runner.onOutputs(outputs),
    onStepError: (error) => runner.onStepError(error),
    onBroken: (error) => {
      health.brokenReason = `engine failed repeatedly: ${error instanceof Error ? error.message : String(error)}`;
      deps.onFatal?.(error);
    },
  });
  const consumer = new Consumer({
    queue,
    slots: runner,
    handleMessage: (message) => runner.handleMessage(message),
    receiveWaitSeconds: config.queue.receiveWaitSeconds,
    visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds,
    logger,
    metrics,
    onQueueReachable: (isReachable) => {
      health.isQueueReachable = isReachable;
    },
  });
  const dlqQueue = deps.dlq ?? (config.queue.dlqUrl ? createSqsJobQueue(sqsClient!, config.queue.dlqUrl) : undefined);
  const dlqWatcher =
    dlqQueue !== undefined
      ? createDlqWatcher({
          dlq: dlqQueue,
          edge,
          workerId: config.workerId,
          receiveWaitSeconds: config.queue.receiveWaitSeconds,
          logger,
          metrics,
        })
      : undefined;

  const healthServer: HealthServer =
    deps.health?.server ??
    (await startHealthServer({
      port: config.metrics.port,
      host: config.metrics.host,
      registry: metrics.registry,
      state: () => health,
    }));
  consumer.start();
  dlqWatcher?.start();
  logger.info(
    {
      queue_url: queue.url,
      ...(queue instanceof PriorityQueues ? { queue_urls: queue.urls.join(",") } : {}),
      dlq_url: dlqQueue?.url,
      max_receive_count: maxReceiveCount,
      max_batch_size: config.engine.maxBatchSize,
      execution_provider: engine.executionProvider,
      execution_providers_asked: config.engine.executionProviders.join(","),
      ...(isFallback ? { execution_provider_fallback: true } : {}),
      ...(taskProtection !== undefined ? { task_protection: true } : {}),
      // Whether the service token is configured; its values are never logged.
      edge_access_service_token: config.edge.accessServiceToken !== undefined,
      model: engine.manifest.name,
      health_port: healthServer.port,
    },
    "worker started",
  );

  let stopping: Promise<boolean> | undefined;
  async function stop(deadlineMs: number): Promise<boolean> {
    health.isDraining = true;
    const releaseAtMs = deadlineMs - Math.min(RELEASE_RESERVE_MS_MAX, (deadlineMs - Date.now()) / 4);
    // Let the long poll in progress end (at most RECEIVE_WAIT_SECONDS) rather than abort it: an aborted poll
    // can still take a message on the server, which would then stay invisible for its visibility timeout.
    const consumerStopped = consumer.stop();
    runner.beginDrain(consumerStopped);
    const stopped = Promise.all([consumerStopped, dlqWatcher?.stop({ abort: true })]);
    if (!(await settlesBefore(consumerStopped, releaseAtMs))) await consumer.stop({ abort: true });
    let isClean = await settlesBefore(runner.idle(), releaseAtMs);
    if (!isClean) {
      logger.warn({ held_jobs: runner.heldJobs }, "drain deadline: releasing the jobs still generating");
      await runner.releaseRemaining();
      isClean = await settlesBefore(runner.idle(), deadlineMs);
    }
    isClean = (await settlesBefore(stopped, deadlineMs)) && isClean;
    isClean = (await settlesBefore(loop.stop(), deadlineMs)) && isClean;
    await engine.close().catch((error: unknown) => logger.warn({ err: error }, "engine close failed"));
    // The drain let go of every job, which already asked to drop the protection; wait for that request.
    await taskProtection?.close();
    await healthServer.close();
    if (ownsSqsClient) sqsClient?.destroy();
    logger.info({ is_clean: isClean, held_jobs: runner.heldJobs }, "worker stopped");
    return isClean;
  }

  return {
    metrics,
    runner,
    healthPort: healthServer.port,
    health: () => ({ ...health }),
    stop: (deadlineMs) => {
      stopping ??= stop(deadlineMs);
      return stopping;
    },
  };
}

export function initialHealthState(): HealthState {
  return { isModelLoaded: false, isQueueReachable: false, isDraining: false, brokenReason: undefined };
}

/** True when `promise` settles before `deadlineMs` (epoch ms); the timer is cleared either way. */
async function settlesBefore(promise: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
