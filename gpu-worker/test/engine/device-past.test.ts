import { describe, expect, it, vi } from "vitest";
import { DevicePastCache } from "../../src/engine/model/device-past.ts";
import type { EngineOptions } from "../../src/engine/types.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, generateBatch, mixedBatchRequests, params, tinyEngine, tokensOf } from "./support/run.ts";

/** The mixed batch (rows join and leave, windows grow, prefill and decode alternate) with one device past mode. */
function generate(devicePast: EngineOptions["devicePast"], logger?: EngineOptions["logger"]) {
  return generateBatch(mixedBatchRequests(), { devicePast, ...(logger ? { logger } : {}) });
}

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("device past", () => {
  it("gives the tokens of the host past while uploading only the versions that changed", async () => {
    const host = await generate("off");
    const device = await generate("on");
    expect(device.tokens).toEqual(host.tokens);
    expect(Object.keys(host.tokens).sort()).toEqual(["conf", "ddpm", "fh", "greedy", "late"]);
    expect(host.counters?.pastReuses).toBe(0);
    expect(device.counters?.pastReuses).toBeGreaterThan(0);
    expect(device.counters?.bytesIn).toBeLessThan(host.counters?.bytesIn ?? 0);
  });

  it("patches the slots a sliding window rewrites instead of uploading the window, with the same tokens", async () => {
    // The tiny model's window is 4 blocks: past it, each committed block rewrites one slot at a constant P.
    const long = async (devicePast: EngineOptions["devicePast"]) => {
      const engine = await tinyEngine({ devicePast, samplerThreads: 0 });
      engine.addRequest({ requestId: "a", prompt: "Hi", params: params({ seed: 9, max_tokens: 60 }) });
      const tokens = tokensOf((await drain(engine)).get("a") ?? []);
      const { counters } = engine.stats();
      await engine.close();
      return { tokens, counters };
    };
    const host = await long("off");
    const whole = await long("full");
    const patched = await long("on");
    expect(whole.tokens).toEqual(host.tokens);
    expect(patched.tokens).toEqual(host.tokens);
    expect(whole.counters?.pastPatches).toBe(0);
    expect(patched.counters?.pastPatches).toBeGreaterThan(5);
    expect(patched.counters?.bytesIn).toBeLessThan(whole.counters?.bytesIn ?? 0);
  });

  it("uploads a lone document's past whole once, then grows and patches it by one block per block", async () => {
    const engine = await tinyEngine({ devicePast: "on", samplerThreads: 0 });
    engine.addRequest({ requestId: "a", prompt: "Hi", params: params({ max_tokens: 40 }) });
    const blocks = (await drain(engine)).get("a") ?? [];
    const { forwards, counters } = engine.stats();
    await engine.close();
    const reuses = counters?.pastReuses ?? 0;
    const patches = counters?.pastPatches ?? 0;
    // The past changes only after the forward that commits the previous block (folded into a block's first
    // step); the block's other steps and the next block's first step read it unchanged. Each change keeps the
    // row, so it is a patch: the window's growth (tiny model: 4 blocks) and its slides alike. Whole uploads:
    // the first non-empty past of the prefill buffer and of the decode buffer; one forward starts empty.
    expect(blocks.length).toBeGreaterThan(5);
    expect(patches).toBeGreaterThanOrEqual(blocks.length - 2);
    expect(forwards - reuses - patches).toBeLessThanOrEqual(3);
  });

  it("falls back to the host past, with a warning, when the runtime refuses the device path", async () => {
    const host = await generate("off");
    // A runtime that cannot keep outputs on its device: the failure is injected, the forwards are real.
    const refuse = vi
      .spyOn(DevicePastCache.prototype, "get")
      .mockRejectedValueOnce(new Error("gpu-buffer outputs are not supported"));
    const warnings: string[] = [];
    try {
      const device = await generate("on", { info: () => {}, warn: (_fields, message) => warnings.push(message ?? "") });
      expect(device.tokens).toEqual(host.tokens);
      expect(device.counters?.pastReuses).toBe(0);
    } finally {
      refuse.mockRestore();
    }
    expect(warnings).toContain("keeping the past on the device failed; the past is uploaded every forward from now on");
  });

  it("is off by default on the CPU provider", async () => {
    const engine = await tinyEngine({ samplerThreads: 0 });
    engine.addRequest({ requestId: "a", prompt: "Hi", params: params({ max_tokens: 20 }) });
    await drain(engine);
    expect(engine.stats().counters?.pastReuses).toBe(0);
    await engine.close();
  });
});
