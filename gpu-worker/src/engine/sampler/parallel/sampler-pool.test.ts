import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleToken } from "../pipeline.ts";
import { Xoshiro128 } from "../rng.ts";
import { createSoftmaxScratch } from "../softmax.ts";
import { subsPeak } from "../subs.ts";
import { ROWS_PER_ROUND } from "./protocol.ts";
import { type PositionTask, SamplerPool } from "./sampler-pool.ts";

const VOCAB = 2_000;
const silent = { info: () => {}, warn: () => {} };

/** `count` positions over one logits buffer: flat to peaked rows, greedy to hot, with and without a known max. */
function makeTasks(count: number, seed: number): PositionTask[] {
  const rng = new Xoshiro128([seed]);
  const logits = new Float32Array(count * VOCAB);
  const tasks: PositionTask[] = [];
  for (let i = 0; i < count; i++) {
    const scale = [0.1, 1, 4, 12][i % 4] as number;
    for (let v = 0; v < VOCAB; v++) logits[i * VOCAB + v] = (rng.nextFloat() - 0.5) * scale;
    const params = {
      vocabSize: VOCAB,
      maskTokenId: VOCAB - 1,
      temperature: [1, 0.7, 0, 1.5][(i >> 2) % 4] as number,
      topP: [0.9, 1, 0.5][i % 3] as number,
    };
    const knowsMax = i % 2 === 0;
    const maxLogit = knowsMax ? subsPeak(logits, i * VOCAB, VOCAB, VOCAB - 1).maxLogit : undefined;
    tasks.push({ logits, offset: i * VOCAB, params, uniform: rng.nextFloat(), maxLogit });
  }
  return tasks;
}

function onOneThread(tasks: readonly PositionTask[]): number[] {
  const scratch = createSoftmaxScratch(VOCAB);
  return tasks.map((task) =>
    sampleToken(task.logits, task.offset, task.params, { uniform: task.uniform }, scratch, task.maxLogit),
  );
}

describe("sampler pool", () => {
  let pool: SamplerPool | null = null;
  beforeAll(async () => {
    pool = await SamplerPool.start(VOCAB, 2, silent);
  });
  afterAll(() => pool?.close());

  it("starts its sampler threads", () => {
    expect(pool?.threads).toBe(2);
  });

  it("draws exactly the tokens one thread draws, for any number of positions (several rounds included)", () => {
    const scratch = createSoftmaxScratch(VOCAB);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * ROWS_PER_ROUND + 5 }), fc.nat(), (count, seed) => {
        const tasks = makeTasks(count, seed);
        expect(Array.from(pool?.sampleAll(tasks, scratch) ?? [])).toEqual(onOneThread(tasks));
      }),
      { numRuns: 12 },
    );
  });

  it("starts no thread when asked for none", async () => {
    expect(await SamplerPool.start(VOCAB, 0, silent)).toBeNull();
  });
});
