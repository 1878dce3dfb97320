/**
 * Measures what `logit_index` saves: batch 1, first hitting, ms per forward and bytes across `run()` per token,
 * at the start of a document and with a full window, for one package with `logit_index` fed the needed
 * positions ("needed") and every step position ("all": the work of a graph without it), plus optionally a
 * package exported without it; and the prefill forwards of a prompt that fills the window (bytes per prompt
 * token). Rounds are interleaved and the fastest kept (the host is shared).
 *   npx tsx gpu-worker/bench/logit-index.ts [--model models/.cache/random-owt-b16]
 *     [--without <package without logit_index>] [--rounds 3] [--blocks 2] [--threads N]
 */
import { parseArgs } from "node:util";
import { createEngine } from "../src/engine/create-engine.ts";
import type { Engine } from "../src/engine/types.ts";
import { measureAtPosition } from "./measure.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/.cache/random-owt-b16" },
    without: { type: "string" },
    rounds: { type: "string", default: "3" },
    blocks: { type: "string", default: "2" },
    threads: { type: "string" },
  },
});

interface Variant {
  name: string;
  engine: Engine;
}

const threads = values.threads ? { intraOpNumThreads: Number(values.threads) } : {};
const open = (modelDir: string, logitPositions: "needed" | "all") =>
  createEngine({ modelDir, ignoreEos: true, maxBatchSize: 1, logitPositions, ...threads });

const variants: Variant[] = [
  { name: "logit_index (needed positions)", engine: await open(values.model, "needed") },
  { name: "logit_index = all positions", engine: await open(values.model, "all") },
];
if (values.without) variants.push({ name: "package without logit_index", engine: await open(values.without, "all") });

const { context_length: context, block_size: blockSize } = variants[0]?.engine.manifest ?? {
  context_length: 0,
  block_size: 0,
};
const positions = [
  { label: "start", pastTokens: 2 * blockSize },
  { label: "full window", pastTokens: context },
];
/** Time of the prefill forwards of a resumed request with `cleanTokens` clean tokens (BOS + filler). */
async function measurePrefill(engine: Engine, cleanTokens: number, round: number) {
  const { block_size: blockSize, eos_token_id: eos, vocab_size: vocabSize } = engine.manifest;
  const committed: number[] = [];
  for (let state = 12_345 + round; committed.length < cleanTokens - 1; ) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const token = state % Math.min(vocabSize - 2, 20_000);
    if (token !== eos) committed.push(token);
  }
  const requestId = `prefill-${round}`;
  const params = { max_tokens: committed.length + blockSize, temperature: 1, top_p: 0.9, seed: 7 };
  const admitted = engine.addRequest({
    requestId,
    prompt: "",
    params: { ...params, strategy: "first_hitting", confidence_threshold: 0.95, stop: [] },
    committedTokenIds: committed,
    startBlockIndex: 1,
  });
  if (admitted.status !== "admitted") throw new Error(`prefill request not admitted: ${JSON.stringify(admitted)}`);
  const chunks = Math.ceil(Math.floor(cleanTokens / blockSize) / (256 / blockSize));
  const before = engine.stats();
  const started = performance.now();
  while (engine.hasWork() && engine.stats().forwards - before.forwards < chunks) await engine.step();
  const ms = performance.now() - started;
  const after = engine.stats();
  engine.abortRequest(requestId);
  const bytes = (after.counters?.bytesIn ?? 0) + (after.counters?.bytesOut ?? 0);
  const bytesBefore = (before.counters?.bytesIn ?? 0) + (before.counters?.bytesOut ?? 0);
  return { ms, chunks, bytes: bytes - bytesBefore };
}

type Best = { msPerForward: number; msPerBlock: number; bytesPerToken: number; rounds: number[] };
const best = new Map<string, Best>();
for (let round = 0; round < Number(values.rounds); round++) {
  for (const variant of variants) {
    const prefill = await measurePrefill(variant.engine, context - blockSize, round);
    const key = `prefill ${context - blockSize} tokens (${prefill.chunks} forwards) | ${variant.name}`;
    const previous = best.get(key);
    const rounds = [...(previous?.rounds ?? []), Math.round(prefill.ms)];
    const perForward = prefill.ms / prefill.chunks;
    if (!previous || perForward < previous.msPerForward) {
      best.set(key, {
        msPerForward: perForward,
        msPerBlock: Number.NaN,
        bytesPerToken: prefill.bytes / (context - blockSize),
        rounds,
      });
    } else previous.rounds = rounds;
    process.stderr.write(`${key}: ${prefill.ms.toFixed(0)} ms\n`);
  }
  for (const position of positions) {
    for (const variant of variants) {
      const result = await measureAtPosition(
        variant.engine,
        `${position.label}-${round}`,
        position.pastTokens,
        Number(values.blocks),
      );
      const msPerForward = (result.msPerBlock * result.blocks) / Math.max(1, result.forwards);
      const key = `${position.label} | ${variant.name}`;
      const previous = best.get(key);
      const rounds = [...(previous?.rounds ?? []), Math.round(msPerForward * 10) / 10];
      if (!previous || msPerForward < previous.msPerForward) {
        best.set(key, { msPerForward, msPerBlock: result.msPerBlock, bytesPerToken: result.bytesPerToken, rounds });
      } else previous.rounds = rounds;
      process.stderr.write(`${key}: ${msPerForward.toFixed(1)} ms/forward\n`);
    }
  }
}
const table = [...best].map(([key, value]) => ({
  case: key,
  msPerForward: Number(value.msPerForward.toFixed(1)),
  msPerBlock: Math.round(value.msPerBlock),
  mbPerToken: Number((value.bytesPerToken / 1e6).toFixed(3)),
  roundsMsPerForward: value.rounds.join(" / "),
}));
console.table(table);
for (const variant of variants) await variant.engine.close();
