import { describe, expect, it } from "vitest";
import { createEngineWithRunner } from "../../src/engine/engine.ts";
import { loadModelPackage } from "../../src/engine/model/model-package.ts";
import type { DenoiserRunner } from "../../src/engine/model/runner.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, textOf, tinyEngine, tokensOf } from "./support/run.ts";

/** Bytes one tiny-package sequence reserves for its full window (3 blocks). */
const WINDOW_BYTES = 3 * 2 * 2 * 2 * 4 * 16 * 4;

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("admission, abort and failures", () => {
  it("queues requests beyond the batch size and admits them as slots free", async () => {
    const engine = await tinyEngine({ maxBatchSize: 2 });
    expect(engine.addRequest({ requestId: "q0", prompt: "a", params: params({ max_tokens: 8 }) })).toEqual({
      status: "admitted",
    });
    expect(engine.addRequest({ requestId: "q1", prompt: "b", params: params({ max_tokens: 8 }) })).toEqual({
      status: "admitted",
    });
    expect(engine.addRequest({ requestId: "q2", prompt: "c", params: params({ max_tokens: 8 }) })).toEqual({
      status: "waiting",
      reason: "batch_full",
    });
    expect(engine.stats()).toMatchObject({ numRunning: 2, numWaiting: 1 });
    const outputs = await drain(engine);
    expect([...outputs.keys()].sort()).toEqual(["q0", "q1", "q2"]);
    expect(outputs.get("q2")?.at(-1)?.isLast).toBe(true);
    await engine.close();
  });

  it("waits for KV budget, and rejects a request that could never fit", async () => {
    const engine = await tinyEngine({ kvBudgetBytes: WINDOW_BYTES });
    expect(engine.addRequest({ requestId: "k0", prompt: "a", params: params({ max_tokens: 40 }) }).status).toBe(
      "admitted",
    );
    expect(engine.addRequest({ requestId: "k1", prompt: "b", params: params({ max_tokens: 40 }) })).toEqual({
      status: "waiting",
      reason: "kv_budget",
    });
    expect(engine.stats().kvBytesInUse).toBe(WINDOW_BYTES);
    const outputs = await drain(engine);
    expect(outputs.get("k1")?.at(-1)?.isLast).toBe(true);
    expect(engine.stats().kvBytesInUse).toBe(0);
    await engine.close();

    const small = await tinyEngine({ kvBudgetBytes: 1_000 });
    const rejected = small.addRequest({ requestId: "big", prompt: "a", params: params({ max_tokens: 40 }) });
    expect(rejected.status).toBe("rejected");
    await small.close();
  });

  it("rejects duplicates and resumes past max_tokens", async () => {
    const engine = await tinyEngine();
    engine.addRequest({ requestId: "d", prompt: "a", params: params() });
    expect(engine.addRequest({ requestId: "d", prompt: "a", params: params() }).status).toBe("rejected");
    const done = engine.addRequest({
      requestId: "e",
      prompt: "a",
      params: params({ max_tokens: 3 }),
      committedTokenIds: [65, 66, 67],
      startBlockIndex: 1,
    });
    expect(done.status).toBe("rejected");
    await engine.close();
  });

  it("aborting frees the slot and KV at once and emits nothing more", async () => {
    const engine = await tinyEngine({ maxBatchSize: 1 });
    engine.addRequest({ requestId: "x", prompt: "a", params: params({ max_tokens: 100 }) });
    engine.addRequest({ requestId: "y", prompt: "b", params: params({ max_tokens: 8 }) });
    await engine.step();
    expect(engine.abortRequest("x")).toBe(true);
    expect(engine.abortRequest("x")).toBe(false);
    expect(engine.stats()).toMatchObject({ numRunning: 1, numWaiting: 0 });
    const outputs = await drain(engine);
    expect(outputs.has("x")).toBe(false);
    expect(outputs.get("y")?.at(-1)?.isLast).toBe(true);
    expect(engine.usage("x")?.forwards).toBe(1);
    await engine.close();
  });

  it("emits nothing for a request aborted while its forward runs", async () => {
    const engine = await tinyEngine();
    // one ddpm step per block: the aborted request's block would complete in the very forward it is aborted in
    engine.addRequest({
      requestId: "m",
      prompt: "abc",
      params: params({ max_tokens: 2, strategy: "ddpm", steps_per_block: 1 }),
    });
    engine.addRequest({ requestId: "n", prompt: "abc", params: params({ max_tokens: 2 }) });
    const outputs = [];
    while (engine.hasWork()) {
      const pending = engine.step();
      engine.abortRequest("m");
      outputs.push(...(await pending));
    }
    expect(outputs.map((block) => block.requestId)).toEqual(["n"]);
    expect(engine.stats()).toMatchObject({ numRunning: 0, kvBytesInUse: 0 });
    await engine.close();
  });

  it("ends a failed forward's batch with error blocks and stays usable", async () => {
    const pkg = await loadModelPackage(TINY_PACKAGE_DIR);
    let failNext = true;
    const runner: DenoiserRunner = {
      executionProvider: "cpu",
      kvDtype: "float32",
      run: async () => {
        if (failNext) {
          failNext = false;
          throw new Error("device lost");
        }
        throw new Error("unreachable in this test");
      },
      close: async () => {},
    };
    const engine = createEngineWithRunner(pkg.manifest, runner);
    engine.addRequest({ requestId: "f", prompt: "a", params: params() });
    const outputs = await engine.step();
    expect(outputs).toEqual([
      {
        requestId: "f",
        index: 0,
        text: "",
        tokenIds: [],
        isLast: true,
        finishReason: "error",
        errorMessage: "device lost",
      },
    ]);
    expect(engine.hasWork()).toBe(false);
    expect(engine.stats().kvBytesInUse).toBe(0);
  });

  it("uses fewer forwards with ddpm and confidence than with first hitting", async () => {
    const forwardsFor = async (strategy: "first_hitting" | "ddpm" | "confidence") => {
      const engine = await tinyEngine();
      engine.addRequest({
        requestId: "s",
        prompt: "abc",
        params: params({ seed: 6, max_tokens: 32, strategy, steps_per_block: 1 }),
      });
      const blocks = (await drain(engine)).get("s") ?? [];
      const usage = engine.usage("s");
      await engine.close();
      return { forwards: usage?.forwards ?? 0, tokens: tokensOf(blocks).length };
    };
    const firstHitting = await forwardsFor("first_hitting");
    const ddpm = await forwardsFor("ddpm");
    const confidence = await forwardsFor("confidence");
    expect(ddpm.forwards / ddpm.tokens).toBeLessThan(firstHitting.forwards / firstHitting.tokens / 2);
    expect(confidence.forwards / confidence.tokens).toBeLessThan(firstHitting.forwards / firstHitting.tokens / 2);
  });

  it("stops at a stop sequence and never emits it", async () => {
    const engine = await tinyEngine();
    engine.addRequest({ requestId: "s", prompt: "a", params: params({ seed: 6, max_tokens: 128 }) });
    const fullText = textOf((await drain(engine)).get("s") ?? []);
    await engine.close();
    const stop = fullText.slice(30, 33);
    expect(stop).toHaveLength(3);
    const stopped = await tinyEngine();
    stopped.addRequest({ requestId: "s", prompt: "a", params: params({ seed: 6, max_tokens: 128, stop: [stop] }) });
    const blocks = (await drain(stopped)).get("s") ?? [];
    await stopped.close();
    expect(blocks.at(-1)?.finishReason).toBe("stop_sequence");
    expect(textOf(blocks)).toBe(fullText.slice(0, fullText.indexOf(stop)));
  });
});
