/**
 * `npm run worker`: one GPU worker with the settings from the environment (and `.env`). Exit codes: 0 clean
 * drain, 1 failed start-up or unclean drain, 2 bad settings (also: EXECUTION_PROVIDERS asks for a GPU and the
 * model came up on the CPU, without ALLOW_CPU_FALLBACK), 143 forced by a second signal.
 */
import { engineOptionsFromConfig } from "../config/engine-options.ts";
import { ConfigError, loadConfig } from "../config/load-config.ts";
import { createEngine } from "../engine/index.ts";
import { ExecutionProviderError } from "./execution-provider.ts";
import { startHealthServer } from "./observability/health-server.ts";
import { createLogger } from "./observability/logger.ts";
import { createWorkerMetrics } from "./observability/metrics.ts";
import { installShutdown } from "./shutdown.ts";
import { initialHealthState, startWorker, type Worker } from "./worker.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, workerId: config.workerId });
  const exit = (code: number) => {
    logger.flush();
    process.exit(code);
  };
  // Signals that arrive while the model loads: exit at once (nothing is held yet).
  const earlyExit = () => exit(0);
  process.once("SIGTERM", earlyExit).once("SIGINT", earlyExit);

  // Health and metrics answer while the model loads: /healthz 200, /readyz 503 (model_loaded: false).
  const metrics = createWorkerMetrics({ maxBatchSize: config.engine.maxBatchSize });
  const healthState = initialHealthState();
  const healthServer = await startHealthServer({
    port: config.metrics.port,
    host: config.metrics.host,
    registry: metrics.registry,
    state: () => healthState,
  });

  const startedAt = performance.now();
  const engine = await createEngine(engineOptionsFromConfig(config.engine, logger.child({ component: "engine" })));
  logger.info(
    {
      model: engine.manifest.name,
      execution_provider: engine.executionProvider,
      load_ms: performance.now() - startedAt,
    },
    "model loaded",
  );

  let shutdown: ReturnType<typeof installShutdown> | undefined;
  let worker: Worker;
  try {
    worker = await startWorker(config, {
      engine,
      logger,
      metrics,
      health: { server: healthServer, state: healthState },
      onFatal: (error) => {
        logger.fatal({ err: error }, "engine broken: draining and exiting");
        shutdown?.trigger("engine_broken", 1);
      },
    });
  } catch (error) {
    if (!(error instanceof ExecutionProviderError)) throw error;
    // A GPU was asked for and the model runs on the CPU: refuse to serve (ALLOW_CPU_FALLBACK=true allows it).
    logger.fatal({ execution_providers: error.asked.join(","), execution_provider: error.active }, error.message);
    process.stderr.write(`${error.message}\n`);
    await engine.close().catch(() => {});
    exit(2);
    return;
  }
  process.off("SIGTERM", earlyExit).off("SIGINT", earlyExit);
  shutdown = installShutdown({
    stop: (deadlineMs) => worker.stop(deadlineMs),
    graceMs: config.shutdownGraceSeconds * 1_000,
    logger,
    exit,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `worker failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
