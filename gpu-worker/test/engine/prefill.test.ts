import { describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, tokensOf } from "./support/run.ts";

async function generate(prompt: string, prefillChunkTokens: number, maxBatchSize = 1) {
  const engine = await createEngine({
    modelDir: TINY_PACKAGE_DIR,
    intraOpNumThreads: 1,
    prefillChunkTokens,
    maxBatchSize,
  });
  engine.addRequest({ requestId: "p", prompt, params: params({ seed: 6, max_tokens: 24 }) });
  const blocks = (await drain(engine)).get("p") ?? [];
  const usage = engine.usage("p");
  await engine.close();
  return { tokens: tokensOf(blocks), forwards: usage?.forwards ?? 0, first: blocks[0] };
}

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("prompt prefill", () => {
  // 106 bytes + BOS: 26 full blocks (the window is 4 blocks, so it slides during the prefill) and a 3-token tail
  const longPrompt =
    "The prompt is much longer than the model's sixteen-token context, so the window slides while it is cached.";

  it("gives the same tokens whether the prompt is cached one block per forward or in chunks", async () => {
    const oneBlock = await generate(longPrompt, 4);
    const chunked = await generate(longPrompt, 12);
    const large = await generate(longPrompt, 256);
    expect(chunked.tokens).toEqual(oneBlock.tokens);
    expect(large.tokens).toEqual(oneBlock.tokens);
    expect(chunked.forwards).toBeLessThan(oneBlock.forwards);
  });

  it("completes the block holding the prompt's tail with generated tokens only", async () => {
    const { first } = await generate(longPrompt, 256);
    expect(new TextEncoder().encode(longPrompt).length + 1).toBe(26 * 4 + 3);
    expect(first?.index).toBe(0);
    expect(first?.tokenIds).toHaveLength(1);
  });
});
