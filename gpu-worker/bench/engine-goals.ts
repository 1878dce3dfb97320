/** The engine benchmark's report of one model and the goals it is judged against (bench/engine.ts). */
import type { SamplingStrategy } from "@bd3-serve/shared";
import type { PositionResult, ThroughputResult } from "./measure.ts";
import type { ReferenceResult } from "./reference.ts";

export interface ModelReport {
  model: string;
  shape: string;
  dtype: string;
  throughput: (ThroughputResult & { perRoundTokensPerSecond: number[]; graphMacsPerToken: number })[];
  positions: PositionResult[];
  /** cached-queries reference (the toolkit's sampler). */
  reference: ReferenceResult | string;
  /** released-algorithm reference, kv_cache=true cost model (released-shape model only). */
  releasedReference: ReferenceResult | string;
  /** released sampler with its config default kv_cache=false (released-shape model only). */
  releasedNoCacheReference: ReferenceResult | string;
  peakRssMb: number;
  goals: { goal: string; measured: string; met: boolean }[];
}

function find(
  report: ModelReport,
  strategy: SamplingStrategy,
  batchSize: number,
): ModelReport["throughput"][number] | undefined {
  return report.throughput.find((result) => result.strategy === strategy && result.batchSize === batchSize);
}

export function evaluateGoals(report: ModelReport, isLarge: boolean): ModelReport["goals"] {
  const goals: ModelReport["goals"] = [];
  const [start, full, eightX] = report.positions;
  if (start && full && eightX) {
    const ratio = eightX.msPerBlock / full.msPerBlock;
    goals.push({
      goal: "per-block time at 8x context within 10% of a full window",
      measured: `${ratio.toFixed(3)}x (median step ${(eightX.msPerBlockMedian / full.msPerBlockMedian).toFixed(3)}x)`,
      met: ratio <= 1.1,
    });
    const outside = Math.max(start.outsideRunShare, full.outsideRunShare);
    goals.push({
      goal: "work outside session.run < 20% of a step",
      measured: `${(100 * outside).toFixed(1)}%`,
      met: outside < 0.2,
    });
  }
  if (isLarge && typeof report.reference !== "string" && start && full) {
    const atStart = start.tokensPerSecond / report.reference.start.tokensPerSecond;
    goals.push({
      goal: ">= 3x the reference at the start (batch 1, first hitting; cached-queries reference, the stricter one)",
      measured: `${atStart.toFixed(1)}x`,
      met: atStart >= 3,
    });
  }
  if (isLarge && typeof report.releasedNoCacheReference !== "string" && full) {
    // The released sampler as a CPU can run it (config default kv_cache=false; its kv_cache=true path allocates
    // on CUDA): the issue's ~5.6 s per full-window forward describes this mode.
    const atFull = full.tokensPerSecond / report.releasedNoCacheReference.fullWindow.tokensPerSecond;
    const kvPath =
      typeof report.releasedReference === "string"
        ? ""
        : `; vs the released kv_cache=true cost model (CUDA-only in the released code) ${(full.tokensPerSecond / report.releasedReference.fullWindow.tokensPerSecond).toFixed(1)}x`;
    goals.push({
      goal: ">= 30x the reference with a full window (the released sampler as it runs on a CPU: kv_cache=false)",
      measured: `${atFull.toFixed(1)}x${kvPath}`,
      met: atFull >= 30,
    });
  }
  if (!isLarge) {
    const one = find(report, "first_hitting", 1);
    const eight = find(report, "first_hitting", 8);
    if (one && eight) {
      const ratio = eight.tokensPerSecond / one.tokensPerSecond;
      goals.push({
        goal: "batch 8 aggregate tokens/s >= 3x batch 1",
        measured: `${ratio.toFixed(2)}x`,
        met: ratio >= 3,
      });
    }
  }
  for (const batchSize of [1, 4, 8]) {
    const base = find(report, "first_hitting", batchSize);
    for (const strategy of ["ddpm", "confidence"] as const) {
      const fast = find(report, strategy, batchSize);
      if (!base || !fast) continue;
      const ratio = fast.tokensPerSecond / base.tokensPerSecond;
      // Each round's ratio compares measurements taken one after the other: less exposed to the host's swings.
      const perRound = fast.perRoundTokensPerSecond.map(
        (tokensPerSecond, round) => tokensPerSecond / (base.perRoundTokensPerSecond[round] ?? Number.NaN),
      );
      // What a compute-bound device allows: first hitting's graph work per token over this strategy's.
      const limit = base.graphMacsPerToken / fast.graphMacsPerToken;
      goals.push({
        goal: `${strategy} (L'/4 steps) >= 3x first hitting at batch ${batchSize}`,
        measured: `${ratio.toFixed(2)}x fastest over fastest, per round ${perRound.map((r) => r.toFixed(2)).join(" / ")} (graph work per token ${limit.toFixed(2)}x less: the compute-bound limit)`,
        met: ratio >= 3,
      });
    }
  }
  return goals;
}

/** `--ckpt <package dir>=<checkpoint dir>` entries; the one naming this package, if any. */
