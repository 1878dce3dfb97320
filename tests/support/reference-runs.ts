/**
 * The bare engine as the tests' oracle (it is deterministic in prompt, params and seed): the text an
 * uninterrupted run writes, and seeds whose run is long enough for a test to interrupt it mid-document.
 * Each call opens and closes its own engine.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JobView } from "@bd3-serve/shared";
import { createEngine } from "../../gpu-worker/src/engine/index.ts";
import { createJob } from "./edge-api.ts";
import { MODEL_DIR } from "./test-model.ts";

/** The text an uninterrupted run of the engine writes for this job (same prompt, params and seed). */
export async function uninterruptedText(prompt: string, params: JobView["params"]): Promise<string> {
  const engine = await createEngine({ modelDir: MODEL_DIR, maxBatchSize: 1, intraOpNumThreads: 1 });
  try {
    engine.addRequest({ requestId: "reference", prompt, params: { ...params, seed: params.seed } });
    let text = "";
    while (engine.hasWork()) for (const block of await engine.step()) text += block.text;
    return text;
  } finally {
    await engine.close();
  }
}

/** A "long" job runs at least this many blocks (paced by the slow edge, that is seconds). */
export const LONG_JOB_MIN_BLOCKS = 20;
/** Seeds tried together when looking for a long run: one, as a trained model rarely ends a document early. */
const SEED_CANDIDATES = 1;

function manifestBlockSize(): number {
  return (JSON.parse(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8")) as { block_size: number }).block_size;
}

/** max_tokens of a long job: room for twice LONG_JOB_MIN_BLOCKS blocks. */
export function longJobTokens(): number {
  return 2 * LONG_JOB_MIN_BLOCKS * manifestBlockSize();
}

/**
 * A seed whose run of `prompt` goes past LONG_JOB_MIN_BLOCKS blocks (a model may end a document early: the
 * tiny random one samples EOS within a few dozen blocks). Found by running the engine on candidate seeds, a
 * batch at a time, only as far as needed; the engine is deterministic in (prompt, params, seed).
 */
export async function findLongSeed(prompt: string, firstSeed = 1): Promise<number> {
  const engine = await createEngine({ modelDir: MODEL_DIR, maxBatchSize: SEED_CANDIDATES, intraOpNumThreads: 1 });
  const params = {
    max_tokens: longJobTokens(),
    temperature: 1,
    top_p: 0.9,
    strategy: "first_hitting" as const,
    confidence_threshold: 0.95,
    stop: [],
  };
  try {
    for (let base = firstSeed; base < firstSeed + 256; base += SEED_CANDIDATES) {
      for (let seed = base; seed < base + SEED_CANDIDATES; seed++)
        engine.addRequest({ requestId: String(seed), prompt, params: { ...params, seed } });
      while (engine.hasWork()) {
        for (const block of await engine.step()) {
          if (!block.isLast && block.index + 1 >= LONG_JOB_MIN_BLOCKS) return Number(block.requestId);
        }
      }
    }
    throw new Error(`no seed in 256 runs goes past ${LONG_JOB_MIN_BLOCKS} blocks`);
  } finally {
    await engine.close();
  }
}

/** Creates a job that surely runs past LONG_JOB_MIN_BLOCKS blocks. */
export async function createLongJob(prompt: string, firstSeed = 1): Promise<JobView> {
  return createJob(prompt, { max_tokens: longJobTokens(), seed: await findLongSeed(prompt, firstSeed) });
}
