/**
 * Runs the PyTorch reference sampler's timing entry point (model toolkit) and parses its JSON.
 * Two algorithms (`bench_reference --algorithm`):
 * - `cached-queries`: the toolkit's ReferenceSampler (the block's queries against a post-rotary K/V cache);
 * - `released`: a cost model of the released BD3-LM sampler's `sampling.kv_cache=true` path (packed pre-rotary
 *   q|k|v cache, rotary over the whole window and attention for every window position on each forward); in the
 *   released code that path allocates its cache on CUDA in bf16, so it cannot run on a CPU at all;
 * - `released-nocache`: the released sampler with its config default (`sampling.kv_cache: False`): the whole DiT
 *   over the whole window on every forward. The only released mode a CPU can run, so the one the CPU
 *   figures (~0.3 s per forward at the start, ~5.6 s with a full window) describe; the 30x goal is checked
 *   against it.
 */
import { spawnSync } from "node:child_process";

export interface ReferenceTiming {
  tokensPerSecond: number;
  msPerForward: number;
  tokens: number;
}

export type ReferenceAlgorithm = "cached-queries" | "released" | "released-nocache";

export interface ReferenceResult {
  algorithm: ReferenceAlgorithm;
  start: ReferenceTiming;
  fullWindow: ReferenceTiming;
  threads: number;
  torch: string;
}

interface RawTiming {
  tokens: number;
  tokens_per_s: number;
  ms_per_forward: number;
}

export function runReference(
  repoRoot: string,
  checkpointDir: string,
  blocks: number,
  timeoutMs: number,
  algorithm: ReferenceAlgorithm = "cached-queries",
  maxForwards = 3,
): ReferenceResult | string {
  const result = spawnSync(
    "bash",
    [
      "model/scripts/python.sh",
      "-m",
      "bd3lm_toolkit.bench_reference",
      "--ckpt",
      checkpointDir,
      "--blocks",
      String(blocks),
      "--json",
      "--algorithm",
      algorithm,
      ...(algorithm === "cached-queries" ? [] : ["--max-forwards", String(maxForwards)]),
    ],
    { cwd: repoRoot, encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
  );
  if (result.error) return `${algorithm} reference run failed: ${result.error.message}`;
  if (result.status !== 0)
    return `${algorithm} reference run exited ${result.status}: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`;
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    const raw = JSON.parse(line) as { start: RawTiming; full_window: RawTiming; threads: number; torch: string };
    const convert = (timing: RawTiming): ReferenceTiming => ({
      tokensPerSecond: timing.tokens_per_s,
      msPerForward: timing.ms_per_forward,
      tokens: timing.tokens,
    });
    return {
      algorithm,
      start: convert(raw.start),
      fullWindow: convert(raw.full_window),
      threads: raw.threads,
      torch: raw.torch,
    };
  } catch {
    return `${algorithm} reference output was not JSON: ${line.slice(0, 200)}`;
  }
}
