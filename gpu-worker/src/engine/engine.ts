import type { Engine, EngineOptions } from "./types.ts";

/** Loads a model package and returns a ready engine (placeholder until the runner lands). */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  throw new Error(`engine not implemented yet (model ${options.modelDir})`);
}
