import type { SamplingParams } from "@bd3-serve/shared";
import { createEngine } from "../../../src/engine/index.ts";
import type { BlockOutput, Engine, EngineOptions, GenerationRequest } from "../../../src/engine/types.ts";
import { TINY_PACKAGE_DIR } from "./packages.ts";

export function params(overrides: Partial<SamplingParams & { seed: number }> = {}): SamplingParams & { seed: number } {
  return {
    max_tokens: 40,
    temperature: 1,
    top_p: 0.9,
    strategy: "first_hitting",
    confidence_threshold: 0.95,
    stop: [],
    seed: 1,
    ...overrides,
  };
}

export function tinyEngine(options: Partial<EngineOptions> = {}): Promise<Engine> {
  return createEngine({ modelDir: TINY_PACKAGE_DIR, intraOpNumThreads: 1, ...options });
}

/** Steps until the engine is idle; returns every block, grouped by request in emission order. */
export async function drain(engine: Engine): Promise<Map<string, BlockOutput[]>> {
  const byRequest = new Map<string, BlockOutput[]>();
  let guard = 0;
  while (engine.hasWork()) {
    if (++guard > 100_000) throw new Error("engine did not finish");
    for (const block of await engine.step()) {
      const list = byRequest.get(block.requestId) ?? [];
      list.push(block);
      byRequest.set(block.requestId, list);
    }
  }
  return byRequest;
}

/** Generates one request alone on a fresh engine. */
export async function generateAlone(
  request: GenerationRequest,
  options: Partial<EngineOptions> = {},
): Promise<BlockOutput[]> {
  const engine = await tinyEngine(options);
  const result = engine.addRequest(request);
  if (result.status === "rejected") throw new Error(result.reason);
  const blocks = (await drain(engine)).get(request.requestId) ?? [];
  await engine.close();
  return blocks;
}

export const tokensOf = (blocks: readonly BlockOutput[]) => blocks.flatMap((block) => block.tokenIds);
export const textOf = (blocks: readonly BlockOutput[]) => blocks.map((block) => block.text).join("");
