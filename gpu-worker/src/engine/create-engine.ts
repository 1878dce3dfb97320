/**
 * The engine's factory: the model package, the sampler's threads and the onnxruntime session, opened together
 * (the threads start while the session loads and warms up).
 */
import { availableParallelism } from "node:os";
import { createEngineWithRunner } from "./engine.ts";
import { type EngineInternalOptions, SAMPLER_THREADS_MAX } from "./engine-options.ts";
import { loadModelPackage } from "./model/model-package.ts";
import { createOrtRunner } from "./model/ort-runner.ts";
import type { DenoiserRunner } from "./model/runner.ts";
import { SamplerPool } from "./sampler/parallel/sampler-pool.ts";
import type { Engine, EngineLogger, EngineOptions } from "./types.ts";

const silentLogger: EngineLogger = { info: () => {}, warn: () => {} };

/**
 * Loads the model package in `options.modelDir`, opens an onnxruntime session on the first execution provider
 * that works, warms it up, and returns a ready engine.
 * @example
 * const engine = await createEngine({ modelDir: "models/kjv-bd3lm-b16" });
 * engine.addRequest({ requestId: "job_1", prompt: "In the beginning", params });
 * while (engine.hasWork()) for (const block of await engine.step()) process.stdout.write(block.text);
 */
export async function createEngine(options: EngineOptions & EngineInternalOptions): Promise<Engine> {
  const logger = options.logger ?? silentLogger;
  const pkg = await loadModelPackage(options.modelDir, { dtype: options.dtype ?? "float32" });
  const samplerThreads = options.samplerThreads ?? Math.min(SAMPLER_THREADS_MAX, availableParallelism() - 1);
  // The sampler's threads start while the session loads and warms up.
  const startingPool = SamplerPool.start(pkg.manifest.vocab_size, samplerThreads, logger);
  let runner: DenoiserRunner;
  try {
    runner = await createOrtRunner(pkg, {
      executionProviders: options.executionProviders ?? ["cpu"],
      logger,
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.allowSpinning !== undefined ? { allowSpinning: options.allowSpinning } : {}),
      ...(options.devicePast ? { devicePast: options.devicePast } : {}),
    });
  } catch (error) {
    await (await startingPool)?.close();
    throw error;
  }
  const samplerPool = await startingPool;
  logger.info(
    {
      model: pkg.manifest.name,
      dtype: pkg.dtype,
      executionProvider: runner.executionProvider,
      samplerThreads: samplerPool?.threads ?? 0,
    },
    "model loaded",
  );
  return createEngineWithRunner(pkg.manifest, runner, { ...options, logger, samplerPool });
}
