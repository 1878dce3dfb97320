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

/**
 * Requests that exercise batching on the tiny model: three strategies, a prompt of several prefill chunks, a
 * greedy row and a late short one; through two batch slots rows join and leave and windows grow and slide.
 */
export function mixedBatchRequests(): GenerationRequest[] {
  return [
    { requestId: "fh", prompt: "Hello there", params: params({ seed: 1, max_tokens: 45 }) },
    {
      requestId: "ddpm",
      prompt: "In",
      params: params({ seed: 2, max_tokens: 30, strategy: "ddpm", steps_per_block: 2 }),
    },
    {
      requestId: "conf",
      prompt: "A longer prompt that takes a few prefill chunks",
      params: params({ seed: 3, max_tokens: 25, strategy: "confidence", steps_per_block: 1 }),
    },
    { requestId: "greedy", prompt: "xyz", params: params({ seed: 4, max_tokens: 20, temperature: 0 }) },
    { requestId: "late", prompt: "Z", params: params({ seed: 5, max_tokens: 12 }) },
  ];
}

/** Runs `requests` through one tiny engine with two batch slots; tokens per request, counters, provider. */
export async function generateBatch(requests: readonly GenerationRequest[], options: Partial<EngineOptions> = {}) {
  const engine = await tinyEngine({ maxBatchSize: 2, samplerThreads: 0, ...options });
  for (const request of requests) engine.addRequest(request);
  const blocks = await drain(engine);
  const { counters } = engine.stats();
  const provider = engine.executionProvider;
  await engine.close();
  return { tokens: Object.fromEntries([...blocks].map(([id, list]) => [id, tokensOf(list)])), counters, provider };
}
