import { describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, tokensOf } from "./support/run.ts";

async function generate(samplerThreads: number) {
  const loaded: unknown[] = [];
  const engine = await createEngine({
    modelDir: TINY_PACKAGE_DIR,
    samplerThreads,
    intraOpNumThreads: 1,
    maxBatchSize: 4,
    // The tiny vocabulary is below the work that makes the pool worth waking: make it take every forward.
    samplerPoolMinWork: 0,
    logger: { info: (fields, message) => message === "model loaded" && loaded.push(fields), warn: () => {} },
  });
  expect(loaded).toEqual([expect.objectContaining({ samplerThreads })]);
  const requests = [
    { requestId: "fh", prompt: "Hello", params: params({ seed: 1, max_tokens: 30, temperature: 0.8 }) },
    {
      requestId: "ddpm",
      prompt: "In the beginning",
      params: params({ seed: 2, max_tokens: 30, strategy: "ddpm", steps_per_block: 2 }),
    },
    {
      requestId: "conf",
      prompt: "xyz",
      params: params({ seed: 3, max_tokens: 30, strategy: "confidence", steps_per_block: 1, top_p: 0.8 }),
    },
    { requestId: "greedy", prompt: "A", params: params({ seed: 4, max_tokens: 20, temperature: 0 }) },
  ];
  for (const request of requests) expect(engine.addRequest(request)).toEqual({ status: "admitted" });
  const blocks = await drain(engine);
  await engine.close();
  return Object.fromEntries([...blocks].map(([id, list]) => [id, tokensOf(list)]));
}

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("sampler threads", () => {
  it("draw the tokens the engine's own thread draws, for a mixed batch", async () => {
    const alone = await generate(0);
    const threaded = await generate(2);
    expect(threaded).toEqual(alone);
    expect(Object.keys(alone).sort()).toEqual(["conf", "ddpm", "fh", "greedy"]);
    expect(Object.values(alone).reduce((sum, tokens) => sum + tokens.length, 0)).toBeGreaterThan(90);
  });
});
