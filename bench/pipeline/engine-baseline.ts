/**
 * The bare engine, in this process, as the pipeline bench's baseline: the same model, engine options, prompt,
 * params and seeds as the jobs sent through the stack, so `job / engine` is what the queue, the edge and the
 * worker runtime cost on top of generation itself.
 *
 * The engine options come from the worker's own settings (`loadConfig` + `engineOptionsFromConfig`, as the
 * stack tests' in-process workers do) built from the same environment the worker processes get, so a setting
 * that reaches the worker (threads, batch size, KV budget, device past) reaches the baseline too.
 * Timing: from the first `addRequest` to the last request's final block, as a client of the engine sees it.
 */
import type { SamplingParams } from "@bd3-serve/shared";
import { engineOptionsFromConfig } from "../../gpu-worker/src/config/engine-options.ts";
import { loadConfig } from "../../gpu-worker/src/config/load-config.ts";
import { createEngine, type Engine } from "../../gpu-worker/src/engine/index.ts";

export interface EngineRun {
  seconds: number;
  tokens: number;
  tokensPerSecond: number;
  /** Generated text by seed. */
  textBySeed: Map<number, string>;
  /** Tokens by seed. */
  tokensBySeed: Map<number, number>;
}

/** An engine configured exactly as a worker with this environment configures its own. */
export async function createBaselineEngine(workerEnv: Record<string, string>): Promise<Engine> {
  const config = loadConfig({ env: workerEnv, envFile: null });
  return createEngine(engineOptionsFromConfig(config.engine));
}

let runCounter = 0;

/** Generates one request per seed, all added at once (batch = seeds.length), and times the whole batch. */
export async function runEngine(
  engine: Engine,
  prompt: string,
  params: SamplingParams,
  seeds: readonly number[],
): Promise<EngineRun> {
  runCounter += 1;
  const seedByRequest = new Map<string, number>();
  const textBySeed = new Map<number, string>();
  const tokensBySeed = new Map<number, number>();
  const startedAtMs = performance.now();
  for (const seed of seeds) {
    const requestId = `bench-${runCounter}-${seed}`;
    seedByRequest.set(requestId, seed);
    textBySeed.set(seed, "");
    tokensBySeed.set(seed, 0);
    const admitted = engine.addRequest({ requestId, prompt, params: { ...params, seed } });
    if (admitted.status === "rejected") throw new Error(`engine rejected seed ${seed}: ${admitted.reason}`);
  }
  let lastFinishedAtMs = startedAtMs;
  let tokens = 0;
  while (engine.hasWork()) {
    for (const block of await engine.step()) {
      const seed = seedByRequest.get(block.requestId);
      if (seed === undefined) continue;
      if (block.finishReason === "error") throw new Error(`engine error for seed ${seed}: ${block.errorMessage}`);
      textBySeed.set(seed, (textBySeed.get(seed) ?? "") + block.text);
      tokensBySeed.set(seed, (tokensBySeed.get(seed) ?? 0) + block.tokenIds.length);
      tokens += block.tokenIds.length;
      if (block.isLast) lastFinishedAtMs = performance.now();
    }
  }
  const seconds = (lastFinishedAtMs - startedAtMs) / 1_000;
  return { seconds, tokens, tokensPerSecond: tokens / seconds, textBySeed, tokensBySeed };
}
