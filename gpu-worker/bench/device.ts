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
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ExecutionProviderName } from "../src/engine/types.ts";
import { type CommonReport, fail, log, OPTIONS, PROVIDERS, ReportWriter } from "./device/common.ts";
import { engineMode } from "./device/engine-mode.ts";
import { probeMode } from "./device/probe-mode.ts";
import { sessionMode } from "./device/session-mode.ts";
import { summaryMode } from "./device/summary-mode.ts";

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
