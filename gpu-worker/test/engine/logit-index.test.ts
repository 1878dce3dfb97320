import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SamplingStrategy } from "@bd3-serve/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngineWithRunner, type EngineInternalOptions } from "../../src/engine/engine.ts";
import { createEngine } from "../../src/engine/index.ts";
import { loadModelPackage } from "../../src/engine/model/model-package.ts";
import { createOrtRunner } from "../../src/engine/model/ort-runner.ts";
import type { DenoiserRunner } from "../../src/engine/model/runner.ts";
import type { BlockOutput, GenerationRequest } from "../../src/engine/types.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, tokensOf } from "./support/run.ts";

const silent = { info: () => {}, warn: () => {} };
const BLOCK = 4;
const VOCAB = 258;

interface ForwardRecord {
  batchSize: number;
  stepLength: number;
  /** Per row: the step positions asked for, or null when every position was returned. */
  asked: number[][] | null;
  logits: number;
}

/** The tiny package's engine, with every forward's shape and logit_index recorded. */
async function recordingEngine(options: EngineInternalOptions = {}) {
  const pkg = await loadModelPackage(TINY_PACKAGE_DIR);
  const runner = await createOrtRunner(pkg, { executionProviders: ["cpu"], intraOpNumThreads: 1, logger: silent });
  const forwards: ForwardRecord[] = [];
  const recording: DenoiserRunner = {
    ...runner,
    async run(inputs) {
      const output = await runner.run(inputs);
      const index = inputs.logitIndex ? Array.from(inputs.logitIndex, Number) : null;
      const perRow = index ? index.length / inputs.batchSize : 0;
      forwards.push({
        batchSize: inputs.batchSize,
        stepLength: inputs.stepLength,
        asked: index
          ? Array.from({ length: inputs.batchSize }, (_, r) => index.slice(r * perRow, (r + 1) * perRow))
          : null,
        logits: output.logits.length,
      });
      return output;
    },
  };
  return { engine: createEngineWithRunner(pkg.manifest, recording, options), forwards, runner };
}

async function generateAll(requests: GenerationRequest[], options: EngineInternalOptions) {
  const { engine, forwards, runner } = await recordingEngine({ maxBatchSize: requests.length, ...options });
  for (const request of requests) expect(engine.addRequest(request)).toEqual({ status: "admitted" });
  const blocks = await drain(engine);
  const stats = engine.stats();
  await engine.close();
  return { blocks, forwards, stats, takesLogitIndex: runner.takesLogitIndex };
}

const tokensById = (blocks: Map<string, BlockOutput[]>) =>
  Object.fromEntries([...blocks].map(([id, list]) => [id, tokensOf(list)]));

function request(id: string, prompt: string, strategy: SamplingStrategy, seed: number, maxTokens = 30) {
  return { requestId: id, prompt, params: params({ seed, max_tokens: maxTokens, strategy, steps_per_block: 2 }) };
}

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("logit_index: logits only for the positions sampled", () => {
  it.each([
    ["first_hitting", "Hello"],
    ["ddpm", "In the beginning"],
    ["confidence", "xyz"],
  ] as const)("%s gives the same tokens as with logits for every position", async (strategy, prompt) => {
    const requests = [request("a", prompt, strategy, 5, 40)];
    const needed = await generateAll(requests, {});
    const all = await generateAll(requests, { logitPositions: "all" });
    expect(needed.takesLogitIndex).toBe(true);
    expect(tokensById(needed.blocks)).toEqual(tokensById(all.blocks));
    expect(tokensOf(needed.blocks.get("a") ?? []).length).toBe(40);
    expect(needed.forwards.length).toBe(all.forwards.length);
    // "all" asks for every step position; "needed" for masked positions of the current block only
    for (const forward of all.forwards) {
      expect(forward.asked).toEqual([Array.from({ length: forward.stepLength }, (_, i) => i)]);
    }
    const folded = needed.forwards.filter((forward) => forward.stepLength === 2 * BLOCK);
    expect(folded.length).toBeGreaterThan(3);
    for (const forward of needed.forwards) {
      const asked = forward.asked?.[0] ?? [];
      expect(forward.logits).toBe(asked.length * VOCAB);
      // the clean half of a folded step never needs logits
      if (forward.stepLength === 2 * BLOCK)
        for (const position of asked) expect(position).toBeGreaterThanOrEqual(BLOCK);
      if (strategy === "first_hitting") expect(asked).toHaveLength(1);
      else expect(asked.length).toBeLessThanOrEqual(BLOCK);
    }
    expect(needed.stats.counters?.bytesOut).toBeLessThan(all.stats.counters?.bytesOut ?? 0);
  });

  it("gives a ragged batch of 3 (prefill, folded steps, padded rows) the tokens of full logits and of each alone", async () => {
    const requests = [
      request("r0", "A", "first_hitting", 1, 25),
      // 33 bytes + BOS: prefilled in chunks while the others decode
      request("r1", "Longer prompt that spans blocks..", "ddpm", 2, 33),
      {
        ...request("r2", "Hi", "confidence", 3, 30),
        params: params({
          seed: 3,
          max_tokens: 30,
          temperature: 0.7,
          top_p: 0.95,
          strategy: "confidence",
          steps_per_block: 2,
        }),
      },
    ];
    const needed = await generateAll(requests, {});
    const all = await generateAll(requests, { logitPositions: "all" });
    expect(tokensById(needed.blocks)).toEqual(tokensById(all.blocks));
    expect(needed.forwards.some((forward) => forward.batchSize === 3)).toBe(true);
    expect(needed.stats.counters?.paddedForwards).toBeGreaterThan(0);
    for (const forward of needed.forwards) {
      const perRow = forward.asked?.[0]?.length ?? 0;
      expect(perRow).toBeGreaterThanOrEqual(1);
      expect(forward.asked?.every((row) => row.length === perRow)).toBe(true);
      expect(forward.logits).toBe(forward.batchSize * perRow * VOCAB);
      expect(perRow).toBeLessThanOrEqual(BLOCK);
    }
    for (const alone of requests) {
      const single = await generateAll([alone], {});
      expect(tokensById(single.blocks)[alone.requestId]).toEqual(tokensById(needed.blocks)[alone.requestId]);
    }
  });
});

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("logit_index in the manifest and the graph", () => {
  let manifest: { io: { inputs: Record<string, string> } } & Record<string, unknown>;
  let copyDir: string;

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(join(TINY_PACKAGE_DIR, "manifest.json"), "utf8"));
    copyDir = await mkdtemp(join(tmpdir(), "bd3-li-"));
    await cp(TINY_PACKAGE_DIR, copyDir, { recursive: true });
  });
  afterAll(() => rm(copyDir, { recursive: true, force: true }));

  it("the tiny package declares it", () => {
    expect(manifest.io.inputs.logit_index).toBe("logit_index");
  });

  it("refuses a manifest that names no logit_index for a graph that takes one, and a wrong name", async () => {
    const { logit_index: _dropped, ...inputs } = manifest.io.inputs;
    await writeFile(join(copyDir, "manifest.json"), JSON.stringify({ ...manifest, io: { ...manifest.io, inputs } }));
    await expect(createEngine({ modelDir: copyDir })).rejects.toThrow(/"io.inputs".*logit_index/);
    const renamed = { ...manifest.io.inputs, logit_index: "positions" };
    await writeFile(
      join(copyDir, "manifest.json"),
      JSON.stringify({ ...manifest, io: { ...manifest.io, inputs: renamed } }),
    );
    await expect(createEngine({ modelDir: copyDir })).rejects.toThrow(/"io.inputs.logit_index".*"positions"/);
  });
});
