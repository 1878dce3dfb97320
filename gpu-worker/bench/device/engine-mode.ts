import type { SamplingStrategy } from "@bd3-serve/shared";
import type { Engine, EngineCounters, ExecutionProviderName } from "../../src/engine/types.ts";
import {
  counterDelta,
  measureAtPosition,
  measureThroughput,
  openEngine,
  type PositionResult,
  type ThroughputResult,
} from "../measure.ts";

import { errorText, fail, log, type ReportWriter, STRATEGIES, shapeOf, stderrLogger, type Values } from "./common.ts";
import { describe } from "./summary-mode.ts";

export type Task =
  | { kind: "tput"; strategy: SamplingStrategy; batchSize: number }
  | { kind: "pos"; label: PositionLabel };
export type PositionLabel = "start" | "full" | "8x";

export function parsePlan(plan: string): Task[] {
  return plan.split(",").map((raw): Task => {
    const parts = raw.trim().split(":");
    if (parts[0] === "tput" && parts.length === 3) {
      const strategy = parts[1] as SamplingStrategy;
      const batchSize = Number(parts[2]);
      if (!STRATEGIES.includes(strategy)) fail(`plan task "${raw}": unknown strategy ${parts[1]}`);
      if (!Number.isInteger(batchSize) || batchSize < 1) fail(`plan task "${raw}": batch must be a positive integer`);
      return { kind: "tput", strategy, batchSize };
    }
    if (parts[0] === "pos" && parts.length === 2 && ["start", "full", "8x"].includes(parts[1] ?? "")) {
      return { kind: "pos", label: parts[1] as PositionLabel };
    }
    return fail(`plan task "${raw}": expected tput:<strategy>:<batch> or pos:start|full|8x`);
  });
}

export function taskName(task: Task): string {
  return task.kind === "tput" ? `tput:${task.strategy}:${task.batchSize}` : `pos:${task.label}`;
}

/** Throughput's shares and traffic per forward, from the engine counters around one measurement. */
export function perForward(result: ThroughputResult, delta: EngineCounters): Record<string, number> {
  const forwards = Math.max(1, result.forwards);
  return {
    msPerForward: (result.seconds * 1_000) / forwards,
    runMsPerForward: delta.forwardMsTotal / forwards,
    runShare: delta.forwardMsTotal / (result.seconds * 1_000),
    prepareShare: delta.prepareMsTotal / (result.seconds * 1_000),
    bytesPerForward: (delta.bytesIn + delta.bytesOut) / forwards,
    bytesInPerForward: delta.bytesIn / forwards,
    paddedForwards: delta.paddedForwards,
  };
}

/**
 * One plan task. A round that would not fit in what is left of the budget (judged by the round before it) is
 * not started: a throughput task then reports its untimed round (`timed: false`, shapes compiled inside it),
 * a position task its first round.
 */
export async function runEngineTask(
  engine: Engine,
  task: Task,
  options: { blocks: number; positionBlocks: number; minSeconds: number },
  remaining: () => number,
): Promise<Record<string, unknown>> {
  const { block_size: blockSize, context_length: context } = engine.manifest;
  if (task.kind === "tput") {
    const steps = task.strategy === "first_hitting" ? undefined : Math.max(1, Math.floor(blockSize / 4));
    const measure = async (minSeconds: number) => {
      const before = engine.stats();
      const result = await measureThroughput(engine, task.batchSize, task.strategy, options.blocks, steps, minSeconds);
      return { result, delta: counterDelta(engine.stats().counters, before.counters) };
    };
    // Untimed round at the same shapes (past lengths), so WebGPU shader compilation and ORT's first runs at a
    // new shape are not in the timed round.
    const warm = await measure(0);
    if (remaining() < Math.max(warm.result.seconds, options.minSeconds) * 1.2) {
      return { task: taskName(task), ...warm.result, ...perForward(warm.result, warm.delta), timed: false };
    }
    const timed = await measure(options.minSeconds);
    return {
      task: taskName(task),
      ...timed.result,
      ...perForward(timed.result, timed.delta),
      timed: true,
      warmSeconds: warm.result.seconds,
    };
  }
  const pastTokens = task.label === "start" ? blockSize : task.label === "full" ? context : 8 * context;
  const label = task.label === "start" ? "start" : task.label === "full" ? "full window" : "8x context";
  const rounds: (PositionResult & { runMsTotal: number; roundSeconds: number })[] = [];
  // Two rounds, fastest kept: the first also compiles the shapes of this position (untimed prefill aside).
  for (let round = 0; round < 2; round++) {
    const last = rounds.at(-1);
    if (last && remaining() < last.roundSeconds * 1.2) break;
    const started = performance.now();
    const before = engine.stats();
    const result = await measureAtPosition(engine, label, pastTokens, options.positionBlocks);
    const delta = counterDelta(engine.stats().counters, before.counters);
    rounds.push({ ...result, runMsTotal: delta.forwardMsTotal, roundSeconds: (performance.now() - started) / 1_000 });
  }
  const best = [...rounds].sort((a, b) => a.msPerBlock - b.msPerBlock)[0];
  if (!best) throw new Error("no round measured");
  const forwards = Math.max(1, best.forwards);
  return {
    task: taskName(task),
    ...best,
    msPerForward: (best.msPerBlock * best.blocks) / forwards,
    runMsPerForward: best.runMsTotal / forwards,
    forwardsPerBlock: forwards / Math.max(1, best.blocks),
    msPerBlockRounds: rounds.map((r) => r.msPerBlock),
  };
}

export function devicePastOption(value: string | undefined): "auto" | "on" | "full" | "off" {
  if (value === undefined) return "auto";
  if (value === "auto" || value === "on" || value === "full" || value === "off") return value;
  return fail(`--device-past must be auto, on, full or off, not ${value}`);
}

export async function engineMode(values: Values, writer: ReportWriter, modelDir: string): Promise<void> {
  const plan = parsePlan(values.plan ?? "tput:first_hitting:1");
  const maxBatch = Math.max(1, ...plan.map((task) => (task.kind === "tput" ? task.batchSize : 1)));
  const threads = values.threads ? Number(values.threads) : undefined;
  const opened = performance.now();
  const engine = await openEngine({
    modelDir,
    dtype: writer.report.dtype,
    executionProviders: [writer.report.ep as ExecutionProviderName],
    maxBatchSize: maxBatch,
    logger: stderrLogger,
    devicePast: devicePastOption(values["device-past"]),
    ...(threads ? { intraOpNumThreads: threads } : {}),
  });
  writer.report.devicePast = values["device-past"];
  writer.report.openSeconds = (performance.now() - opened) / 1_000;
  writer.report.executionProvider = engine.executionProvider;
  writer.report.shape = shapeOf(engine.manifest);
  writer.flush();
  log(
    `== ${modelDir} (${writer.report.shape}, ${writer.report.dtype}, ${engine.executionProvider}) opened in ${writer.report.openSeconds.toFixed(1)} s`,
  );
  const options = {
    blocks: Number(values.blocks ?? 3),
    positionBlocks: Number(values["position-blocks"] ?? 3),
    minSeconds: Number(values["min-seconds"] ?? 2),
  };
  let lastSeconds = 0;
  for (const task of plan) {
    // A task takes about as long as the one before it (warm round + timed round); start it only if that fits.
    if (lastSeconds > 0 && writer.remaining() < lastSeconds * 1.2) {
      log(
        `  ${taskName(task)}: skipped (budget: ${writer.remaining().toFixed(0)} s left, last task ${lastSeconds.toFixed(0)} s)`,
      );
      writer.add({ task: taskName(task), skipped: "budget" });
      continue;
    }
    const started = performance.now();
    try {
      const result = await runEngineTask(engine, task, options, () => writer.remaining());
      writer.add({ ...result, taskSeconds: (performance.now() - started) / 1_000 });
      log(`  ${describe(result)}`);
    } catch (error) {
      log(`  ${taskName(task)}: failed: ${errorText(error)}`);
      writer.add({ task: taskName(task), error: errorText(error) });
    }
    lastSeconds = (performance.now() - started) / 1_000;
  }
  await engine.close();
}

/** The manifest's `io.inputs.logit_index`, when the package has one (read loosely: older schemas lack it). */
