/**
 * Turns the pipeline bench's raw rounds into its one JSON line, and (--write-docs) into the raw-run text file
 * and the SVG plot under docs/benchmarks/.
 *
 * Aggregation follows the engine bench: the host's speed swings 2-3x between minutes and contention only
 * ever adds time, so each rate is the fastest of its interleaved rounds and each ratio is fastest over
 * fastest; the per-round values (and per-round ratios of neighbours in time) are kept under `rounds` so a
 * reader can see the spread. Latencies take the smallest round for the same reason.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import type { EngineRun } from "./engine-baseline.ts";
import type { RecoveryResult } from "./recovery.ts";
import type { StackRun } from "./stack-jobs.ts";
import { type BarGroup, renderBarChart } from "./svg.ts";

export interface Measurements {
  engine1: EngineRun[];
  job1: StackRun[];
  engineN: EngineRun[];
  jobN: StackRun[];
  rtt0: StackRun[];
  rttN: StackRun[];
  recovery: RecoveryResult | { error: string } | null;
  textIdentical: boolean | null;
  paramsMatch: boolean | null;
}

export interface ReportSettings {
  model: string;
  prompt: string;
  max_tokens: number;
  seed: number;
  strategy: string;
  rounds: number;
  rtt_ms: number;
  concurrent_jobs: number;
  kill_after_blocks: number;
  skip: string[];
  worker_env: Record<string, string>;
}

type Rated = { tokensPerSecond: number };

const round = (value: number | null, digits: number): number | null =>
  value === null || !Number.isFinite(value) ? null : Number(value.toFixed(digits));

/** The code measured: HEAD's commit and whether the work tree differs from it (null outside a git checkout). */
function codeVersion(repoRoot: string): { commit: string; dirty: boolean } | null {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return { commit: git("rev-parse", "--short", "HEAD"), dirty: git("status", "--porcelain") !== "" };
  } catch {
    return null;
  }
}

function best(runs: readonly Rated[]): number | null {
  return runs.length === 0 ? null : Math.max(...runs.map((run) => run.tokensPerSecond));
}

/** The median of the per-round ratios: less sensitive than a ratio of bests to one lucky round. */
function medianRatio(a: readonly Rated[], b: readonly Rated[]): number | null {
  const ratios = perRoundRatio(a, b)
    .filter((value): value is number => value !== null)
    .sort((x, y) => x - y);
  if (ratios.length === 0) return null;
  const middle = Math.floor(ratios.length / 2);
  return ratios.length % 2 === 1 ? (ratios[middle] ?? null) : ((ratios[middle - 1] ?? 0) + (ratios[middle] ?? 0)) / 2;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

function perRound(runs: readonly Rated[]): (number | null)[] {
  return runs.map((run) => round(run.tokensPerSecond, 1));
}

function perRoundRatio(a: readonly Rated[], b: readonly Rated[]): (number | null)[] {
  return a.slice(0, b.length).map((run, i) => round(ratio(run.tokensPerSecond, b[i]?.tokensPerSecond ?? null), 3));
}

export function buildReport(m: Measurements, settings: ReportSettings, wallSeconds: number, repoRoot: string) {
  const n = settings.concurrent_jobs;
  const rttKey = `rtt${settings.rtt_ms}`;
  const engine1 = best(m.engine1);
  const job1 = best(m.job1);
  const engineN = best(m.engineN);
  const jobN = best(m.jobN);
  const rtt0 = best(m.rtt0);
  const rttN = best(m.rttN);
  const firstBlocks = m.job1.map((run) => run.firstBlockSeconds[0] ?? Number.NaN).filter(Number.isFinite);
  const recovery =
    m.recovery === null
      ? null
      : "error" in m.recovery
        ? m.recovery
        : {
            seconds: round(m.recovery.seconds, 2),
            text_identical: m.recovery.textIdentical,
            blocks_seen_at_kill: m.recovery.blocksSeenAtKill,
            resumed_at_block: m.recovery.resumedAtBlock,
            holder_found_by: m.recovery.holderFoundBy,
            job_seconds: round(m.recovery.jobSeconds, 1),
            status: m.recovery.status,
            tokens: m.recovery.tokens,
          };
  return {
    bench: "pipeline",
    date: new Date().toISOString(),
    pipeline: {
      engine_tokens_per_second: round(engine1, 1),
      job_tokens_per_second: round(job1, 1),
      over_engine: round(ratio(job1, engine1), 3),
      over_engine_median_of_rounds: round(medianRatio(m.job1, m.engine1), 3),
      first_block_seconds: round(firstBlocks.length > 0 ? Math.min(...firstBlocks) : null, 3),
      rtt0_tokens_per_second: round(rtt0, 1),
      [`${rttKey}_tokens_per_second`]: round(rttN, 1),
      [`${rttKey}_over_rtt0`]: round(ratio(rttN, rtt0), 3),
      [`${rttKey}_over_rtt0_median_of_rounds`]: round(medianRatio(m.rttN, m.rtt0), 3),
      [`jobs${n}_tokens_per_second`]: round(jobN, 1),
      [`jobs${n}_over_jobs1`]: round(ratio(jobN, job1), 3),
      text_identical: m.textIdentical,
      params_match: m.paramsMatch,
    },
    engine: {
      tokens_per_second: round(engine1, 1),
      [`jobs${n}_tokens_per_second`]: round(engineN, 1),
      [`jobs${n}_over_jobs1`]: round(ratio(engineN, engine1), 3),
    },
    recovery,
    rounds: {
      engine_tokens_per_second: perRound(m.engine1),
      job_tokens_per_second: perRound(m.job1),
      over_engine: perRoundRatio(m.job1, m.engine1),
      first_block_seconds: m.job1.map((run) => round(run.firstBlockSeconds[0] ?? null, 3)),
      [`engine_jobs${n}_tokens_per_second`]: perRound(m.engineN),
      [`jobs${n}_tokens_per_second`]: perRound(m.jobN),
      rtt0_tokens_per_second: perRound(m.rtt0),
      [`${rttKey}_tokens_per_second`]: perRound(m.rttN),
      [`${rttKey}_over_rtt0`]: perRoundRatio(m.rttN, m.rtt0),
    },
    tokens: {
      job: m.job1[0]?.tokens ?? m.rtt0[0]?.tokens ?? null,
      [`jobs${n}`]: m.jobN[0]?.tokens ?? null,
    },
    host: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? "unknown",
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      load_avg_1m_at_end: round(loadavg()[0] ?? null, 2),
    },
    code: codeVersion(repoRoot),
    settings,
    wall_seconds: round(wallSeconds, 0),
  };
}

export type Report = ReturnType<typeof buildReport>;

const fmt = (value: unknown, unit = "", digits = 2) =>
  typeof value === "number" ? `${value.toFixed(digits)}${unit}` : "n/a";

/** The plot: engine vs job, rtt 0 vs N, engine and stack at 1 vs N jobs. */
export function renderPlot(report: Report, settings: ReportSettings): string {
  const p = report.pipeline as Record<string, number | null | boolean>;
  const e = report.engine as Record<string, number | null>;
  const n = settings.concurrent_jobs;
  const rttKey = `rtt${settings.rtt_ms}`;
  const num = (value: unknown) => (typeof value === "number" ? value : null);
  const groups: BarGroup[] = [
    {
      title: "engine vs job (1 job)",
      bars: [
        { label: "engine", value: num(p.engine_tokens_per_second) },
        { label: "job", value: num(p.job_tokens_per_second) },
      ],
      ratioLabel: `job / engine = ${fmt(p.over_engine, "x")}`,
    },
    {
      title: `worker-edge rtt 0 vs ${settings.rtt_ms} ms`,
      bars: [
        { label: "rtt 0", value: num(p.rtt0_tokens_per_second) },
        { label: `rtt ${settings.rtt_ms}`, value: num(p[`${rttKey}_tokens_per_second`]) },
      ],
      ratioLabel: `${settings.rtt_ms} ms / 0 = ${fmt(p[`${rttKey}_over_rtt0`], "x")}`,
    },
    {
      title: `engine batch 1 vs ${n}`,
      bars: [
        { label: "1", value: num(e.tokens_per_second) },
        { label: String(n), value: num(e[`jobs${n}_tokens_per_second`]) },
      ],
      ratioLabel: `${n} / 1 = ${fmt(e[`jobs${n}_over_jobs1`], "x")}`,
    },
    {
      title: `stack 1 vs ${n} jobs`,
      bars: [
        { label: "1 job", value: num(p.job_tokens_per_second) },
        { label: `${n} jobs`, value: num(p[`jobs${n}_tokens_per_second`]) },
      ],
      ratioLabel: `${n} / 1 = ${fmt(p[`jobs${n}_over_jobs1`], "x")}`,
    },
  ];
  const recovery = report.recovery as { seconds?: number; text_identical?: boolean; error?: string } | null;
  const recoveryNote =
    recovery === null
      ? "recovery: skipped"
      : recovery.error !== undefined
        ? `recovery: failed (${recovery.error.slice(0, 80)})`
        : `recovery after SIGKILL of the worker holding the job: ${fmt(recovery.seconds, " s", 1)} to the next block; text identical to an uninterrupted run: ${recovery.text_identical}`;
  return renderBarChart({
    title: "bd3-serve pipeline: tokens/s, whole local stack vs the bare engine",
    subtitle: `${settings.model}, "${settings.prompt}", ${settings.max_tokens} tokens, seed ${settings.seed}, ${settings.strategy}; ${report.host.cpus} CPUs, node ${report.host.node}; ${report.date.slice(0, 10)}; fastest of ${settings.rounds} interleaved rounds`,
    yLabel: "tokens / second (aggregate)",
    groups,
    footnotes: [
      `first block seen by the client: ${fmt(p.first_block_seconds, " s", 2)} after the create request`,
      recoveryNote,
      "job = POST /v1/generations to the SSE done event, one worker already ready; engine = in-process, same settings",
    ],
  });
}
