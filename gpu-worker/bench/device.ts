/**
 * Benchmark entry for a remote machine that has no node_modules (scripts/device/pack.sh bundles this file into
 * one ESM file with onnxruntime-node left external; scripts/device/bench-gpu.sh runs it there). Every
 * measurement is written to the --out JSON file as soon as it is taken, so a step killed by its timeout still
 * leaves what it measured, and each mode stops starting new measurements once --budget-s is nearly spent.
 *
 *   device.ts probe   --model <dir> --ep webgpu|cpu [--dtype D] [--out F]
 *       one session and one forward with ORT's verbose log on stderr (the WebGPU adapter, node placement)
 *   device.ts engine  --model <dir> --ep E [--dtype D] [--threads N] --plan <tasks> [--blocks N]
 *       [--position-blocks N] [--min-seconds S] [--device-past auto|on|full|off] [--budget-s S] --out F
 *       tasks, run in the order given: `tput:<strategy>:<batch>` (throughput from empty prompts, ddpm and
 *       confidence with L'/4 steps per block; one untimed round at the same shapes first) and
 *       `pos:start|full|8x` (batch 1, first hitting, per-block time after one block / a full window / 8x context)
 *   device.ts session --model <dir> --ep E [--dtype D] [--threads N] [--batches 1,8] [--past 0,1008] [--step 16]
 *       [--runs N] [--min-seconds S] [--logit-positions N] [--gpu-outputs] [--profile-runs N] [--budget-s S] --out F
 *       bare session.run with the runner's session options (no engine): ms per call and bytes across run();
 *       a graph that takes `logit_index` gets the last N step positions (default 1, as first hitting asks);
 *       --gpu-outputs repeats it with the outputs left on the GPU (WebGPU), --profile-runs summarises ORT's
 *       profiler (node placement per provider, time per op type) over a few calls
 *   device.ts summary <file.json>...   one line per measurement, for a human
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { GraphDtype, ModelManifest, SamplingStrategy } from "@bd3-serve/shared";
import * as ort from "onnxruntime-node";
import { loadModelPackage } from "../src/engine/model/model-package.ts";
import type { Engine, EngineCounters, EngineLogger, ExecutionProviderName } from "../src/engine/types.ts";
import {
  counterDelta,
  measureAtPosition,
  measureThroughput,
  openEngine,
  type PositionResult,
  type ThroughputResult,
} from "./measure.ts";

const STRATEGIES: readonly SamplingStrategy[] = ["first_hitting", "ddpm", "confidence"];
const PROVIDERS: readonly ExecutionProviderName[] = ["cpu", "webgpu", "cuda"];

interface CommonReport {
  kind: "probe" | "engine" | "session";
  model: string;
  shape?: string;
  ep: string;
  dtype: GraphDtype;
  threads: number | null;
  /** Engine mode: where the past lives between forwards (EngineOptions.devicePast). */
  devicePast?: string;
  startedAt: string;
  /** Session creation (+ the engine's warm-up forwards), seconds. */
  openSeconds?: number;
  /** The provider ORT actually ran with (the engine's EP list has only the requested one). */
  executionProvider?: string;
  error?: string;
  finished: boolean;
  elapsedSeconds: number;
  peakRssMb: number;
  results: Record<string, unknown>[];
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const stderrLogger: EngineLogger = {
  info: (obj, msg) => log(`info: ${msg ?? ""} ${JSON.stringify(obj)}`),
  warn: (obj, msg) => log(`warn: ${msg ?? ""} ${JSON.stringify(obj)}`),
};

function fail(message: string): never {
  log(message);
  process.exit(2);
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim();
}

function list(value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const numbers = value.split(",").map((part) => Number(part.trim()));
  if (numbers.some((n) => !Number.isFinite(n))) fail(`not a list of numbers: "${value}"`);
  return numbers;
}

function shapeOf(manifest: ModelManifest): string {
  const arch = manifest.architecture;
  return `${arch.num_layers}x${arch.hidden_size}, vocab ${manifest.vocab_size}, L'=${manifest.block_size}, context ${manifest.context_length}`;
}

/** Writes the report after every measurement; a step killed by its timeout keeps what it measured. */
class ReportWriter {
  private readonly started = performance.now();
  constructor(
    readonly report: CommonReport,
    private readonly path: string | undefined,
    private readonly budgetSeconds: number,
  ) {
    this.flush();
  }
  elapsed(): number {
    return (performance.now() - this.started) / 1_000;
  }
  remaining(): number {
    return this.budgetSeconds - this.elapsed();
  }
  add(result: Record<string, unknown>): void {
    this.report.results.push(result);
    this.flush();
  }
  flush(): void {
    this.report.elapsedSeconds = this.elapsed();
    this.report.peakRssMb = process.resourceUsage().maxRSS / 1024;
    if (this.path) writeFileSync(this.path, `${JSON.stringify(this.report, null, 1)}\n`);
  }
  finish(error?: unknown): void {
    if (error !== undefined) this.report.error = errorText(error);
    this.report.finished = error === undefined;
    this.flush();
  }
}

type Task = { kind: "tput"; strategy: SamplingStrategy; batchSize: number } | { kind: "pos"; label: PositionLabel };
type PositionLabel = "start" | "full" | "8x";

function parsePlan(plan: string): Task[] {
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

function taskName(task: Task): string {
  return task.kind === "tput" ? `tput:${task.strategy}:${task.batchSize}` : `pos:${task.label}`;
}

/** Throughput's shares and traffic per forward, from the engine counters around one measurement. */
function perForward(result: ThroughputResult, delta: EngineCounters): Record<string, number> {
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
async function runEngineTask(
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

function devicePastOption(value: string | undefined): "auto" | "on" | "full" | "off" {
  if (value === undefined) return "auto";
  if (value === "auto" || value === "on" || value === "full" || value === "off") return value;
  return fail(`--device-past must be auto, on, full or off, not ${value}`);
}

async function engineMode(values: Values, writer: ReportWriter, modelDir: string): Promise<void> {
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
function logitIndexInput(manifest: ModelManifest): string | undefined {
  return (manifest.io.inputs as Record<string, string | undefined>).logit_index;
}

interface SessionFeeds {
  feeds: Record<string, ort.Tensor>;
  bytesIn: number;
}

function buildFeeds(
  session: ort.InferenceSession,
  manifest: ModelManifest,
  dtype: GraphDtype,
  batch: number,
  step: number,
  past: number,
  logitPositions: number,
): SessionFeeds {
  const { num_layers: layers, num_heads: heads, head_dim: headDim } = manifest.architecture;
  const names = manifest.io.inputs;
  const ids = new BigInt64Array(batch * step);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(i % 3 === 0 ? (i * 7919) % 256 : manifest.mask_token_id);
  const positions = BigInt64Array.from({ length: batch * step }, (_, i) => BigInt(past + (i % step)));
  const pastCount = layers * batch * heads * past * headDim;
  const pastKey = dtype === "float16" ? new Uint16Array(pastCount) : new Float32Array(pastCount);
  const pastValue = dtype === "float16" ? new Uint16Array(pastCount) : new Float32Array(pastCount);
  const candidates: Record<string, ort.Tensor> = {
    [names.input_ids]: new ort.Tensor("int64", ids, [batch, step]),
    [names.position_ids]: new ort.Tensor("int64", positions, [batch, step]),
    [names.past_key]: new ort.Tensor(dtype, pastKey, [layers, batch, heads, past, headDim]),
    [names.past_value]: new ort.Tensor(dtype, pastValue, [layers, batch, heads, past, headDim]),
    [names.attention_mask]: new ort.Tensor("bool", new Uint8Array(batch * step * (past + step)).fill(1), [
      batch,
      step,
      past + step,
    ]),
  };
  // `logit_index` (optional in newer manifests): logits for the last `logitPositions` step positions only, as
  // the engine asks for one position per row under first hitting.
  const logitIndexName = logitIndexInput(manifest);
  if (logitIndexName) {
    const n = Math.max(1, Math.min(step, logitPositions));
    // flat indices row * Q + position (docs/model-package.md)
    const index = BigInt64Array.from({ length: batch * n }, (_, i) =>
      BigInt(Math.floor(i / n) * step + step - n + (i % n)),
    );
    candidates[logitIndexName] = new ort.Tensor("int64", index, [batch * n]);
  }
  const feeds: Record<string, ort.Tensor> = {};
  let bytesIn = 0;
  for (const [name, tensor] of Object.entries(candidates)) {
    if (!session.inputNames.includes(name)) continue;
    feeds[name] = tensor;
    bytesIn += (tensor.data as ArrayBufferView).byteLength;
  }
  return { feeds, bytesIn };
}

function outputBytes(results: ort.InferenceSession.OnnxValueMapType): number {
  let bytes = 0;
  for (const value of Object.values(results)) {
    const tensor = value as ort.Tensor;
    if (tensor.location === "cpu") bytes += (tensor.data as ArrayBufferView).byteLength;
  }
  return bytes;
}

function disposeOutputs(results: ort.InferenceSession.OnnxValueMapType): void {
  for (const value of Object.values(results)) {
    const tensor = value as ort.Tensor;
    if (tensor.location !== "cpu") tensor.dispose();
  }
}

function sessionOptions(
  ep: string,
  threads: number | undefined,
  extra: Partial<ort.InferenceSession.SessionOptions> = {},
): ort.InferenceSession.SessionOptions {
  // The same options as the engine's runner (gpu-worker/src/engine/model/ort-runner.ts).
  return {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra: { session: { intra_op: { allow_spinning: "0" } } },
    ...extra,
  };
}

async function timeSessionRuns(
  session: ort.InferenceSession,
  manifest: ModelManifest,
  dtype: GraphDtype,
  shape: { batch: number; step: number; past: number },
  options: { runs: number; minSeconds: number; variant: string; logitPositions: number },
  remaining: () => number,
): Promise<Record<string, unknown>> {
  const { feeds, bytesIn } = buildFeeds(
    session,
    manifest,
    dtype,
    shape.batch,
    shape.step,
    shape.past,
    options.logitPositions,
  );
  let bytesOut = 0;
  const warmMs: number[] = [];
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    const results = await session.run(feeds);
    warmMs.push(performance.now() - started);
    bytesOut = outputBytes(results);
    disposeOutputs(results);
  }
  const times: number[] = [];
  const started = performance.now();
  while (times.length < options.runs || performance.now() - started < options.minSeconds * 1_000) {
    const runStarted = performance.now();
    const results = await session.run(feeds);
    const ms = performance.now() - runStarted;
    times.push(ms);
    disposeOutputs(results);
    if (times.length >= 10 * options.runs) break;
    // Out of budget: stop after 3 timed runs rather than lose the measurement to the step's timeout.
    if (times.length >= 3 && remaining() < (2 * ms) / 1_000) break;
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return {
    task: `run:${options.variant}:b${shape.batch}:q${shape.step}:p${shape.past}`,
    variant: options.variant,
    ...shape,
    logitPositions: logitIndexInput(manifest) ? options.logitPositions : null,
    runs: times.length,
    msMin: sorted[0] ?? 0,
    msMedian: median,
    msMean: mean,
    msWarm: warmMs,
    tokensPerSecondAtMedian: (shape.batch * shape.step * 1_000) / median,
    bytesIn,
    bytesOut,
  };
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

/** Node placement per provider and the op types that took the most time, from ORT's profiler JSON. */
function summariseProfile(path: string, runs: number): Record<string, unknown> {
  const events = JSON.parse(readFileSync(path, "utf8")) as ProfileEvent[];
  const providers = new Map<string, { nodes: Set<string>; us: number }>();
  const ops = new Map<string, { us: number; calls: number }>();
  let runUs = 0;
  for (const event of events) {
    if (event.cat === "Session" && event.name === "model_run") runUs += event.dur ?? 0;
    if (event.cat !== "Node" || !event.name?.endsWith("_kernel_time")) continue;
    const provider = event.args?.provider ?? "?";
    const entry = providers.get(provider) ?? { nodes: new Set<string>(), us: 0 };
    entry.nodes.add(event.name);
    entry.us += event.dur ?? 0;
    providers.set(provider, entry);
    const key = `${event.args?.op_name ?? "?"}@${provider}`;
    const op = ops.get(key) ?? { us: 0, calls: 0 };
    op.us += event.dur ?? 0;
    op.calls++;
    ops.set(key, op);
  }
  return {
    task: "profile",
    runs,
    msPerRunInProfiler: runUs / 1_000 / Math.max(1, runs),
    providers: Object.fromEntries(
      [...providers].map(([name, entry]) => [
        name,
        { nodes: entry.nodes.size, msPerRun: entry.us / 1_000 / Math.max(1, runs) },
      ]),
    ),
    topOps: [...ops]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 20)
      .map(([key, op]) => ({
        op: key,
        msPerRun: op.us / 1_000 / Math.max(1, runs),
        callsPerRun: op.calls / Math.max(1, runs),
      })),
    note: "kernel times are host-side (a WebGPU kernel's time is its dispatch, not its GPU time)",
  };
}

async function sessionMode(values: Values, writer: ReportWriter, modelDir: string): Promise<void> {
  const { dtype, ep } = writer.report;
  const pkg = await loadModelPackage(modelDir, { dtype });
  const manifest = pkg.manifest;
  writer.report.shape = shapeOf(manifest);
  const threads = values.threads ? Number(values.threads) : undefined;
  const batches = list(values.batches, [1, 8]);
  const pasts = list(values.past, [0, manifest.context_length - manifest.block_size]);
  const step = Number(values.step ?? manifest.block_size);
  const runOptions = {
    runs: Number(values.runs ?? 10),
    minSeconds: Number(values["min-seconds"] ?? 1),
    logitPositions: Number(values["logit-positions"] ?? 1),
  };
  const variants: { name: string; extra: Partial<ort.InferenceSession.SessionOptions> }[] = [
    { name: "cpu-io", extra: {} },
  ];
  if (values["gpu-outputs"] && ep === "webgpu")
    variants.push({ name: "gpu-outputs", extra: { preferredOutputLocation: "gpu-buffer" } });
  let lastSeconds = 0;
  for (const variant of variants) {
    const opened = performance.now();
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(pkg.graphPath, sessionOptions(ep, threads, variant.extra));
    } catch (error) {
      writer.add({ task: `open:${variant.name}`, error: errorText(error) });
      log(`  open ${variant.name}: failed: ${errorText(error)}`);
      if (variant.name === "cpu-io") throw error;
      continue;
    }
    const openSeconds = (performance.now() - opened) / 1_000;
    if (variant.name === "cpu-io") writer.report.openSeconds = openSeconds;
    writer.add({ task: `open:${variant.name}`, openSeconds });
    for (const batch of batches) {
      for (const past of pasts) {
        const task = `run:${variant.name}:b${batch}:q${step}:p${past}`;
        if (lastSeconds > 0 && writer.remaining() < lastSeconds * 1.2) {
          writer.add({ task, skipped: "budget" });
          continue;
        }
        const started = performance.now();
        try {
          const result = await timeSessionRuns(
            session,
            manifest,
            dtype,
            { batch, step, past },
            { ...runOptions, variant: variant.name },
            () => writer.remaining(),
          );
          writer.add(result);
          log(`  ${describe(result)}`);
        } catch (error) {
          writer.add({ task, error: errorText(error) });
          log(`  ${task}: failed: ${errorText(error)}`);
        }
        lastSeconds = (performance.now() - started) / 1_000;
      }
    }
    await session.release();
  }
  const profileRuns = Number(values["profile-runs"] ?? 0);
  if (profileRuns > 0 && writer.remaining() > Math.max(5, lastSeconds + (writer.report.openSeconds ?? 0))) {
    const out = resolve(values.out ?? "profile.json");
    const prefix = join(dirname(out), `ort-profile-${basename(out, ".json")}`);
    try {
      const session = await ort.InferenceSession.create(
        pkg.graphPath,
        sessionOptions(ep, threads, { enableProfiling: true, profileFilePrefix: prefix }),
      );
      const past = pasts.at(-1) ?? 0;
      const { feeds } = buildFeeds(session, manifest, dtype, 1, step, past, runOptions.logitPositions);
      for (let i = 0; i < 2 + profileRuns; i++) disposeOutputs(await session.run(feeds));
      session.endProfiling();
      await session.release();
      const file = readdirSync(dirname(out))
        .filter((name) => name.startsWith(basename(prefix)) && name.endsWith(".json"))
        .sort()
        .at(-1);
      if (!file) throw new Error(`no profile file ${prefix}*.json`);
      // The first two runs are warm-up; their events stay in (the summary divides by all runs).
      const summary = summariseProfile(join(dirname(out), file), 2 + profileRuns);
      rmSync(join(dirname(out), file));
      writer.add({ ...summary, batch: 1, step, past });
      log(`  profile (b1, past ${past}): ${JSON.stringify(summary.providers)}`);
    } catch (error) {
      writer.add({ task: "profile", error: errorText(error) });
      log(`  profile: failed: ${errorText(error)}`);
    }
  } else if (profileRuns > 0) {
    writer.add({ task: "profile", skipped: "budget" });
  }
}

async function probeMode(writer: ReportWriter, modelDir: string): Promise<void> {
  ort.env.logLevel = "verbose";
  log(`supported backends: ${JSON.stringify(ort.listSupportedBackends())}`);
  const pkg = await loadModelPackage(modelDir, { dtype: writer.report.dtype });
  const opened = performance.now();
  const session = await ort.InferenceSession.create(pkg.graphPath, sessionOptions(writer.report.ep, undefined));
  writer.report.openSeconds = (performance.now() - opened) / 1_000;
  writer.report.executionProvider = writer.report.ep;
  const { feeds } = buildFeeds(session, pkg.manifest, pkg.dtype, 1, pkg.manifest.block_size, 0, 1);
  const started = performance.now();
  const results = await session.run(feeds);
  const logits = results[pkg.manifest.io.outputs.logits] as ort.Tensor;
  const values = logits.data as Float32Array;
  let finite = 0;
  for (const v of values) if (Number.isFinite(v)) finite++;
  writer.add({
    task: "probe",
    firstRunMs: performance.now() - started,
    logitsDims: logits.dims,
    finiteShare: finite / Math.max(1, values.length),
    backends: ort.listSupportedBackends(),
  });
  await session.release();
}

function fmt(value: unknown, digits = 1): string {
  if (value === undefined || value === null) return "-";
  return typeof value === "number" ? value.toFixed(digits) : String(value);
}

/** One line for a measurement record (engine throughput, position, session run, profile, skip or error). */
function describe(result: Record<string, unknown>): string {
  const task = String(result.task);
  if (result.error) return `${task}: ERROR ${String(result.error).slice(0, 300)}`;
  if (result.skipped) return `${task}: skipped (${String(result.skipped)})`;
  if (task.startsWith("tput:"))
    return `${task}${result.timed === false ? " (untimed round only: budget)" : ""}: ${fmt(result.tokensPerSecond)} tok/s, ${fmt(result.forwardsPerSecond)} fwd/s, ${fmt(result.msPerForward, 2)} ms/fwd (run() ${fmt(result.runMsPerForward, 2)} ms, ${fmt(100 * Number(result.runShare))}% of time), ${fmt(Number(result.bytesPerForward) / 1e6, 2)} MB across run()/fwd`;
  if (task.startsWith("pos:"))
    return `${task} (past ${fmt(result.pastTokens, 0)}): ${fmt(result.msPerBlock)} ms/block, ${fmt(result.tokensPerSecond)} tok/s, ${fmt(result.msPerForward, 2)} ms/fwd, outside run() ${fmt(100 * Number(result.outsideRunShare))}%, ${fmt(Number(result.bytesPerToken) / 1e6, 2)} MB across run()/token`;
  if (task.startsWith("run:"))
    return `${task}: median ${fmt(result.msMedian, 2)} ms (min ${fmt(result.msMin, 2)}, ${fmt(result.runs, 0)} runs), ${fmt(Number(result.bytesIn) / 1e6, 2)} MB in + ${fmt(Number(result.bytesOut) / 1e6, 2)} MB out`;
  if (task.startsWith("open:")) return `${task}: ${fmt(result.openSeconds, 2)} s`;
  if (task === "profile")
    return `profile: ${JSON.stringify(result.providers)} top ${JSON.stringify(result.topOps).slice(0, 400)}`;
  if (task === "probe")
    return `probe: first run ${fmt(result.firstRunMs)} ms, logits finite ${fmt(result.finiteShare, 3)}`;
  return JSON.stringify(result).slice(0, 300);
}

function summaryMode(files: string[]): void {
  for (const file of files) {
    let report: CommonReport;
    try {
      report = JSON.parse(readFileSync(file, "utf8")) as CommonReport;
    } catch (error) {
      process.stdout.write(`${basename(file)}: unreadable (${errorText(error)})\n`);
      continue;
    }
    const head = `${basename(file)}: ${report.kind} ${basename(report.model)} ${report.dtype} ep=${report.ep}${report.executionProvider && report.executionProvider !== report.ep ? ` (ran ${report.executionProvider})` : ""} threads=${report.threads ?? "default"}${report.devicePast ? ` device-past=${report.devicePast}` : ""} open ${fmt(report.openSeconds)} s, ${fmt(report.elapsedSeconds)} s, peak RSS ${fmt(report.peakRssMb, 0)} MB${report.finished ? "" : " [UNFINISHED]"}`;
    process.stdout.write(`${head}\n`);
    if (report.error) process.stdout.write(`  ERROR ${report.error.slice(0, 600)}\n`);
    for (const result of report.results) process.stdout.write(`  ${describe(result)}\n`);
  }
}

const OPTIONS = {
  model: { type: "string" },
  ep: { type: "string", default: "cpu" },
  dtype: { type: "string", default: "float32" },
  threads: { type: "string" },
  plan: { type: "string" },
  blocks: { type: "string" },
  "position-blocks": { type: "string" },
  "min-seconds": { type: "string" },
  batches: { type: "string" },
  past: { type: "string" },
  step: { type: "string" },
  runs: { type: "string" },
  "logit-positions": { type: "string" },
  "gpu-outputs": { type: "boolean", default: false },
  "device-past": { type: "string", default: "auto" },
  "profile-runs": { type: "string" },
  "budget-s": { type: "string" },
  out: { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: OPTIONS, allowPositionals: true, strict: true });
  const mode = positionals[0];
  if (mode === "summary") return summaryMode(positionals.slice(1));
  if (mode !== "probe" && mode !== "engine" && mode !== "session")
    fail("usage: device.ts probe|engine|session|summary ... (see the header)");
  if (!values.model) fail("--model is required");
  const ep = values.ep;
  if (!PROVIDERS.includes(ep as ExecutionProviderName)) fail(`--ep must be one of ${PROVIDERS.join(", ")}`);
  const dtype = values.dtype;
  if (dtype !== "float32" && dtype !== "float16") fail("--dtype must be float32 or float16");
  const modelDir = resolve(values.model);
  const report: CommonReport = {
    kind: mode,
    model: modelDir,
    ep,
    dtype,
    threads: values.threads ? Number(values.threads) : null,
    startedAt: new Date().toISOString(),
    finished: false,
    elapsedSeconds: 0,
    peakRssMb: 0,
    results: [],
  };
  const writer = new ReportWriter(
    report,
    values.out ? resolve(values.out) : undefined,
    Number(values["budget-s"] ?? 600),
  );
  try {
    if (mode === "probe") await probeMode(writer, modelDir);
    else if (mode === "engine") await engineMode(values, writer, modelDir);
    else await sessionMode(values, writer, modelDir);
    writer.finish();
  } catch (error) {
    log(`${mode} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    writer.finish(error);
    process.exitCode = 1;
  }
  if (!values.out) process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
