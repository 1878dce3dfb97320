/** Runs the PyTorch reference sampler's timing entry point (model toolkit) and parses its JSON. */
import { spawnSync } from "node:child_process";

export interface ReferenceTiming {
  tokensPerSecond: number;
  msPerForward: number;
  tokens: number;
}

export interface ReferenceResult {
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
    ],
    { cwd: repoRoot, encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
  );
  if (result.error) return `reference run failed: ${result.error.message}`;
  if (result.status !== 0)
    return `reference run exited ${result.status}: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`;
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    const raw = JSON.parse(line) as { start: RawTiming; full_window: RawTiming; threads: number; torch: string };
    const convert = (timing: RawTiming): ReferenceTiming => ({
      tokensPerSecond: timing.tokens_per_s,
      msPerForward: timing.ms_per_forward,
      tokens: timing.tokens,
    });
    return { start: convert(raw.start), fullWindow: convert(raw.full_window), threads: raw.threads, torch: raw.torch };
  } catch {
    return `reference output was not JSON: ${line.slice(0, 200)}`;
  }
}
