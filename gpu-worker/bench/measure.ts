/**
 * Measurements on a live engine: throughput of a batch, and per-block times at a chosen document position.
 * A position deep in a document is reached by resuming with committed random tokens (prefilled in chunks,
 * not timed): the same code path a resumed job takes.
 */
import type { SamplingStrategy } from "@bd3-serve/shared";
import { createEngine, zeroCounters } from "../src/engine/index.ts";
import type { BlockOutput, Engine, EngineCounters, EngineOptions } from "../src/engine/types.ts";

export interface ThroughputResult {
  batchSize: number;
  strategy: SamplingStrategy;
  stepsPerBlock: number | null;
  tokens: number;
  forwards: number;
  seconds: number;
  tokensPerSecond: number;
  forwardsPerSecond: number;
  /** Share of the time spent sampling (outside session.run). */
  samplingShare: number;
  /** Step token rows and logits rows the graph computed per generated token (see graphMacsPerToken). */
  tokenRowsPerToken: number;
  logitRowsPerToken: number;
}

/**
 * Multiply-accumulates the graph spent per generated token, from the rows it computed: every step token row
 * costs the transformer body (per layer: QKV and output projections 4d^2, the MLP 2 d m), every logits row the
 * output layer (d V). Attention over the past (2 d x window per layer and row) is left out: it grows with the
 * window and is the same per token row for every strategy. The compute-bound limit of a strategy against first
 * hitting is the ratio of these numbers: on a device that is compute-bound (a CPU at batch 4-8), tokens/s cannot
 * exceed it, whatever the per-forward overheads.
 */
export function graphMacsPerToken(
  architecture: { num_layers: number; hidden_size: number; mlp_hidden_size: number },
  vocabSize: number,
  result: Pick<ThroughputResult, "tokenRowsPerToken" | "logitRowsPerToken">,
): number {
  const d = architecture.hidden_size;
  const bodyPerRow = architecture.num_layers * (4 * d * d + 2 * d * architecture.mlp_hidden_size);
  return result.tokenRowsPerToken * bodyPerRow + result.logitRowsPerToken * d * vocabSize;
}

export interface PositionResult {
  label: string;
  /** Clean tokens before the first timed block. */
  pastTokens: number;
  blocks: number;
  msPerBlock: number;
  /** Median step time x steps per block: robust to another process stealing the cores for a while. */
  msPerBlockMedian: number;
  tokensPerSecond: number;
  forwards: number;
  /** Time outside session.run (batch building + sampling) as a share of the step. */
  outsideRunShare: number;
  samplingShare: number;
  bytesPerToken: number;
  kvCopyBytesPerToken: number;
}

export function params(strategy: SamplingStrategy, maxTokens: number, seed: number, stepsPerBlock?: number) {
  return {
    max_tokens: maxTokens,
    temperature: 1,
    top_p: 0.9,
    strategy,
    confidence_threshold: 0.95,
    stop: [],
    seed,
    ...(stepsPerBlock ? { steps_per_block: stepsPerBlock } : {}),
  };
}

/** An engine for measuring: documents run to max_tokens (EOS and the repetition check are ignored). */
export async function openEngine(options: EngineOptions): Promise<Engine> {
  return createEngine({ ...options, ignoreEos: true });
}

/**
 * B requests from an empty prompt, `blocksPerRequest` blocks each, repeated until `minSeconds` have passed;
 * aggregate tokens/s and forwards/s.
 */
export async function measureThroughput(
  engine: Engine,
  batchSize: number,
  strategy: SamplingStrategy,
  blocksPerRequest: number,
  stepsPerBlock?: number,
  minSeconds = 0,
): Promise<ThroughputResult> {
  const blockSize = engine.manifest.block_size;
  const maxTokens = blocksPerRequest * blockSize - 1;
  const before = engine.stats();
  const started = performance.now();
  let tokens = 0;
  let round = 0;
  do {
    for (let i = 0; i < batchSize; i++) {
      const requestId = `t${round}-${i}`;
      const result = engine.addRequest({
        requestId,
        prompt: "",
        params: params(strategy, maxTokens, 1000 * round + i, stepsPerBlock),
      });
      if (result.status !== "admitted") throw new Error(`request ${requestId} not admitted: ${JSON.stringify(result)}`);
    }
    while (engine.hasWork()) for (const block of await engine.step()) tokens += block.tokenIds.length;
    round++;
  } while (performance.now() - started < minSeconds * 1_000);
  const seconds = (performance.now() - started) / 1_000;
  const after = engine.stats();
  const forwards = after.forwards - before.forwards;
  const delta = counterDelta(after.counters, before.counters);
  return {
    batchSize,
    strategy,
    stepsPerBlock: stepsPerBlock ?? null,
    tokens,
    forwards,
    seconds,
    tokensPerSecond: tokens / seconds,
    forwardsPerSecond: forwards / seconds,
    samplingShare: delta.samplingMsTotal / (seconds * 1_000),
    tokenRowsPerToken: delta.stepTokenRows / tokens,
    logitRowsPerToken: delta.logitRows / tokens,
  };
}

/** after - before, counter by counter; a missing snapshot (an engine without counters) counts as zeros. */
export function counterDelta(after: EngineCounters | undefined, before: EngineCounters | undefined): EngineCounters {
  const delta = zeroCounters();
  for (const key of Object.keys(delta) as (keyof EngineCounters)[]) {
    delta[key] = (after?.[key] ?? 0) - (before?.[key] ?? 0);
  }
  return delta;
}

/** A pseudo-random token id that is neither a special token nor [MASK]. */
function fillerTokens(count: number, vocabSize: number, eosTokenId: number): number[] {
  const tokens: number[] = [];
  let state = 12_345;
  const usable = Math.min(vocabSize - 2, 256 + (vocabSize > 300 ? 20_000 : 0));
  while (tokens.length < count) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const token = state % usable;
    if (token !== eosTokenId) tokens.push(token);
  }
  return tokens;
}

/**
 * Batch 1, first hitting: places the first timed block after `pastTokens` clean tokens (BOS + filler),
 * then times `blocks` blocks (the first generated block, which carries the prefill, is not timed).
 */
export async function measureAtPosition(
  engine: Engine,
  label: string,
  pastTokens: number,
  blocks: number,
): Promise<PositionResult> {
  const { block_size: blockSize, vocab_size: vocabSize, eos_token_id: eos } = engine.manifest;
  // clean tokens = BOS + committed filler; the untimed first block then ends one block before pastTokens.
  const fillerCount = Math.max(0, pastTokens - 2 * blockSize);
  const committed = fillerTokens(fillerCount, vocabSize, eos);
  const request = {
    requestId: `p-${label}`,
    prompt: "",
    params: params("first_hitting", committed.length + (blocks + 2) * blockSize, 7),
    ...(committed.length > 0 ? { committedTokenIds: committed, startBlockIndex: 1 } : {}),
  };
  const admitted = engine.addRequest(request);
  if (admitted.status !== "admitted") throw new Error(`position request not admitted: ${JSON.stringify(admitted)}`);
  const outputs: BlockOutput[] = [];
  while (outputs.length === 0) outputs.push(...(await engine.step()));
  const before = engine.stats();
  const started = performance.now();
  let tokens = 0;
  let timedBlocks = 0;
  const stepMs: number[] = [];
  while (timedBlocks < blocks && engine.hasWork()) {
    const stepStarted = performance.now();
    for (const block of await engine.step()) {
      tokens += block.tokenIds.length;
      timedBlocks++;
    }
    stepMs.push(performance.now() - stepStarted);
  }
  stepMs.sort((a, b) => a - b);
  const medianStepMs = stepMs[Math.floor(stepMs.length / 2)] ?? 0;
  const elapsedMs = performance.now() - started;
  const after = engine.stats();
  engine.abortRequest(request.requestId);
  const delta = counterDelta(after.counters, before.counters);
  const busyMs = delta.forwardMsTotal + delta.prepareMsTotal + delta.samplingMsTotal;
  return {
    label,
    pastTokens: (Math.floor((1 + committed.length) / blockSize) + 1) * blockSize,
    blocks: timedBlocks,
    msPerBlock: elapsedMs / Math.max(1, timedBlocks),
    msPerBlockMedian: (medianStepMs * stepMs.length) / Math.max(1, timedBlocks),
    tokensPerSecond: tokens / (elapsedMs / 1_000),
    forwards: after.forwards - before.forwards,
    outsideRunShare: (delta.prepareMsTotal + delta.samplingMsTotal) / busyMs,
    samplingShare: delta.samplingMsTotal / busyMs,
    bytesPerToken: (delta.bytesIn + delta.bytesOut) / Math.max(1, tokens),
    kvCopyBytesPerToken: delta.kvCopyBytes / Math.max(1, tokens),
  };
}
