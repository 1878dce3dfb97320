import { describe, expect, it } from "vitest";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, generateAlone, params, textOf, tinyEngine, tokensOf } from "./support/run.ts";

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("engine on the tiny package (block 4, context 16)", () => {
  it("gives the same text for the same seed, and another text for another seed", async () => {
    const request = { requestId: "a", prompt: "Hello", params: params({ seed: 7, max_tokens: 30 }) };
    const first = await generateAlone(request);
    const second = await generateAlone(request);
    expect(tokensOf(second)).toEqual(tokensOf(first));
    expect(textOf(second)).toBe(textOf(first));
    const other = await generateAlone({ ...request, params: params({ seed: 8, max_tokens: 30 }) });
    expect(tokensOf(other)).not.toEqual(tokensOf(first));
  });

  it("numbers blocks from 0, cuts at max_tokens and reports usage", async () => {
    const engine = await tinyEngine();
    engine.addRequest({ requestId: "u", prompt: "Hello", params: params({ seed: 3, max_tokens: 13 }) });
    const blocks = (await drain(engine)).get("u") ?? [];
    const usage = engine.usage("u");
    await engine.close();
    expect(blocks.map((block) => block.index)).toEqual(blocks.map((_, i) => i));
    // BOS + "Hello" = 6 tokens: the first block is completed with 2 generated tokens
    if (blocks.at(-1)?.finishReason === "max_tokens") {
      expect(blocks[0]?.tokenIds.length).toBe(2);
      expect(tokensOf(blocks)).toHaveLength(13);
    }
    expect(blocks.slice(0, -1).every((block) => !block.isLast && block.finishReason === null)).toBe(true);
    expect(usage).toEqual({ promptTokens: 5, completionTokens: tokensOf(blocks).length, forwards: expect.any(Number) });
  });

  it("resumed at block k from the committed tokens, produces the same text as one run", async () => {
    const request = { requestId: "r", prompt: "In the beginning", params: params({ seed: 11, max_tokens: 60 }) };
    const full = await generateAlone(request);
    expect(full.length).toBeGreaterThan(5);
    for (const k of [1, 3, 5]) {
      const committed = tokensOf(full.slice(0, k));
      const resumed = await generateAlone({ ...request, committedTokenIds: committed, startBlockIndex: k });
      expect(resumed.map((block) => block.index)).toEqual(full.slice(k).map((block) => block.index));
      expect(tokensOf(resumed)).toEqual(tokensOf(full.slice(k)));
      expect(textOf(full.slice(0, k)) + textOf(resumed)).toBe(textOf(full));
    }
  });

  it("gives each request of a ragged batch the tokens it gets alone", async () => {
    const requests = [
      { requestId: "b0", prompt: "A", params: params({ seed: 1, max_tokens: 25 }) },
      { requestId: "b1", prompt: "Longer prompt that spans blocks", params: params({ seed: 2, max_tokens: 33 }) },
      {
        requestId: "b2",
        prompt: "xyz",
        params: params({ seed: 3, max_tokens: 12, strategy: "ddpm", steps_per_block: 2 }),
      },
      { requestId: "b3", prompt: "Hi", params: params({ seed: 4, max_tokens: 30, temperature: 0.7, top_p: 0.95 }) },
    ];
    const engine = await tinyEngine({ maxBatchSize: 4 });
    for (const request of requests) expect(engine.addRequest(request)).toEqual({ status: "admitted" });
    const batched = await drain(engine);
    expect(engine.stats().counters?.paddedForwards).toBeGreaterThan(0);
    await engine.close();
    for (const request of requests) {
      const alone = await generateAlone(request);
      expect(tokensOf(batched.get(request.requestId) ?? [])).toEqual(tokensOf(alone));
    }
  });

  it("completes a document 8x the context with a bounded cache", async () => {
    const engine = await tinyEngine();
    engine.addRequest({ requestId: "long", prompt: "Once", params: params({ seed: 6, max_tokens: 8 * 16 }) });
    const budgetUsed = engine.stats().kvBytesInUse;
    let maxInUse = 0;
    const blocks = [];
    while (engine.hasWork()) {
      blocks.push(...(await engine.step()));
      maxInUse = Math.max(maxInUse, engine.stats().kvBytesInUse);
    }
    await engine.close();
    // window of 4 blocks: at most 3 cached blocks of 2 layers x 2 heads x 4 tokens x 16 dims, keys and values
    expect(budgetUsed).toBe(3 * 2 * 2 * 2 * 4 * 16 * 4);
    expect(maxInUse).toBe(budgetUsed);
    expect(tokensOf(blocks)).toHaveLength(8 * 16);
    expect(blocks.at(-1)?.finishReason).toBe("max_tokens");
    expect(blocks.length).toBe(33);
  });
});
