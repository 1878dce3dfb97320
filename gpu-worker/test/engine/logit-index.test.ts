import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SamplingStrategy } from "@bd3-serve/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngineWithRunner } from "../../src/engine/engine.ts";
import type { EngineInternalOptions } from "../../src/engine/engine-options.ts";
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
  /** Logits rows the graph returned. */
  rows: number;
  logits: number;
  /** Largest difference between the graph's logit_stats and [max, log-sum-exp] computed here (null: none). */
  statsError: number | null;
}

/** [max, log-sum-exp] of one logits row with [MASK] (the last token) excluded, in float64. */
function rowStats(logits: Float32Array, row: number): [number, number] {
  const values = logits.subarray(row * VOCAB, row * VOCAB + VOCAB - 1);
  const max = Math.max(...values);
  return [max, max + Math.log(values.reduce((sum, value) => sum + Math.exp(value - max), 0))];
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
      const asked = index ? Array.from({ length: inputs.batchSize }, (): number[] => []) : null;
      for (const flat of index ?? []) asked?.[Math.floor(flat / inputs.stepLength)]?.push(flat % inputs.stepLength);
      const rows = output.logits.length / VOCAB;
      let statsError: number | null = null;
      if (output.logitStats) {
        statsError = 0;
        for (let row = 0; row < rows; row++) {
          const [max, logSumExp] = rowStats(output.logits, row);
          statsError = Math.max(
            statsError,
            Math.abs((output.logitStats[2 * row] as number) - max),
            Math.abs((output.logitStats[2 * row + 1] as number) - logSumExp),
          );
        }
      }
      forwards.push({
        batchSize: inputs.batchSize,
        stepLength: inputs.stepLength,
        asked,
        rows,
        logits: output.logits.length,
        statsError,
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
      // the graph's statistics of every row it returned agree with the logits
      expect(forward.statsError).not.toBeNull();
      expect(forward.statsError).toBeLessThan(1e-4);
      // the clean half of a folded step never needs logits
      if (forward.stepLength === 2 * BLOCK)
        for (const position of asked) expect(position).toBeGreaterThanOrEqual(BLOCK);
      if (strategy === "first_hitting") expect(asked).toHaveLength(1);
      else expect(asked.length).toBeLessThanOrEqual(BLOCK);
    }
    expect(needed.stats.counters?.bytesOut).toBeLessThan(all.stats.counters?.bytesOut ?? 0);
  });

  it("gives a ragged batch of 3 (prefill, folded steps, rows asking different counts) the tokens of full logits and of each alone", async () => {
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
    let ragged = 0;
    for (const forward of needed.forwards) {
      const counts = (forward.asked ?? []).map((row) => row.length);
      const asked = counts.reduce((sum, count) => sum + count, 0);
      // flat: exactly the positions asked for, none padded (one when no row reads logits: M >= 1)
      expect(forward.rows).toBe(Math.max(1, asked));
      expect(forward.logits).toBe(forward.rows * VOCAB);
      for (const row of forward.asked ?? []) {
        expect(new Set(row).size).toBe(row.length);
        expect(row.length).toBeLessThanOrEqual(BLOCK);
      }
      if (new Set(counts).size > 1) ragged++;
    }
    expect(ragged).toBeGreaterThan(0);
    for (const alone of requests) {
      const single = await generateAll([alone], {});
      expect(tokensById(single.blocks)[alone.requestId]).toEqual(tokensById(needed.blocks)[alone.requestId]);
    }
  });
});

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("logit_stats: confidence without a pass over the vocabulary", () => {
  it.each([
    ["first_hitting", 1],
    ["ddpm", 1],
    ["confidence", 1],
    ["confidence", 0.7],
  ] as const)("%s at temperature %s gives the tokens the logits alone give", async (strategy, temperature) => {
    const requests = ["a", "b"].map((id, i) => ({
      requestId: id,
      prompt: i === 0 ? "Hello" : "In the beginning",
      params: params({ seed: 11 + i, max_tokens: 40, strategy, steps_per_block: 2, temperature }),
    }));
    const withStats = await generateAll(requests, {});
    const withoutStats = await generateAll(requests, { ignoreLogitStats: true });
    expect(withStats.forwards.every((forward) => forward.statsError !== null)).toBe(true);
    expect(tokensById(withStats.blocks)).toEqual(tokensById(withoutStats.blocks));
  });
});

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("logit_index in the manifest and the graph", () => {
  let manifest: { io: { inputs: Record<string, string>; outputs: Record<string, string> } } & Record<string, unknown>;
  let copyDir: string;

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(join(TINY_PACKAGE_DIR, "manifest.json"), "utf8"));
    copyDir = await mkdtemp(join(tmpdir(), "bd3-li-"));
    await cp(TINY_PACKAGE_DIR, copyDir, { recursive: true });
  });
  afterAll(() => rm(copyDir, { recursive: true, force: true }));

  it("the tiny package declares it, and logit_stats", () => {
    expect(manifest.io.inputs.logit_index).toBe("logit_index");
    expect(manifest.io.outputs.logit_stats).toBe("logit_stats");
  });

  it("refuses a logit_stats name the graph does not have", async () => {
    const outputs = { ...manifest.io.outputs, logit_stats: "stats" };
    await writeFile(join(copyDir, "manifest.json"), JSON.stringify({ ...manifest, io: { ...manifest.io, outputs } }));
    await expect(createEngine({ modelDir: copyDir })).rejects.toThrow(/"io.outputs.logit_stats".*"stats"/);
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
