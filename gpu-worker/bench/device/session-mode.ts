/** `device.ts session`: bare session.run timings with the runner's session options, no engine (see device.ts). */
import { readdirSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { GraphDtype, ModelManifest } from "@bd3-serve/shared";
import * as ort from "onnxruntime-node";
import { loadModelPackage } from "../../src/engine/model/model-package.ts";

import { errorText, list, log, type ReportWriter, shapeOf, type Values } from "./common.ts";
import { summariseProfile } from "./profile-summary.ts";
import { describe } from "./summary-mode.ts";

export function logitIndexInput(manifest: ModelManifest): string | undefined {
  return (manifest.io.inputs as Record<string, string | undefined>).logit_index;
}

export interface SessionFeeds {
  feeds: Record<string, ort.Tensor>;
  bytesIn: number;
}

export function buildFeeds(
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

export function outputBytes(results: ort.InferenceSession.OnnxValueMapType): number {
  let bytes = 0;
  for (const value of Object.values(results)) {
    const tensor = value as ort.Tensor;
    if (tensor.location === "cpu") bytes += (tensor.data as ArrayBufferView).byteLength;
  }
  return bytes;
}

export function disposeOutputs(results: ort.InferenceSession.OnnxValueMapType): void {
  for (const value of Object.values(results)) {
    const tensor = value as ort.Tensor;
    if (tensor.location !== "cpu") tensor.dispose();
  }
}

export function sessionOptions(
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

export async function timeSessionRuns(
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

export async function sessionMode(values: Values, writer: ReportWriter, modelDir: string): Promise<void> {
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
