/** What every device.ts command shares: the report writer, the CLI options, logging and small parsers. */
import { writeFileSync } from "node:fs";
import type { parseArgs } from "node:util";
import type { GraphDtype, ModelManifest, SamplingStrategy } from "@bd3-serve/shared";
import type { EngineLogger, ExecutionProviderName } from "../../src/engine/types.ts";

export const STRATEGIES: readonly SamplingStrategy[] = ["first_hitting", "ddpm", "confidence"];
export const PROVIDERS: readonly ExecutionProviderName[] = ["cpu", "webgpu", "cuda"];

export interface CommonReport {
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

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

export const stderrLogger: EngineLogger = {
  info: (obj, msg) => log(`info: ${msg ?? ""} ${JSON.stringify(obj)}`),
  warn: (obj, msg) => log(`warn: ${msg ?? ""} ${JSON.stringify(obj)}`),
};

export function fail(message: string): never {
  log(message);
  process.exit(2);
}

export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim();
}

export function list(value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const numbers = value.split(",").map((part) => Number(part.trim()));
  if (numbers.some((n) => !Number.isFinite(n))) fail(`not a list of numbers: "${value}"`);
  return numbers;
}

export function shapeOf(manifest: ModelManifest): string {
  const arch = manifest.architecture;
  return `${arch.num_layers}x${arch.hidden_size}, vocab ${manifest.vocab_size}, L'=${manifest.block_size}, context ${manifest.context_length}`;
}

/** Writes the report after every measurement; a step killed by its timeout keeps what it measured. */
export class ReportWriter {
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

export const OPTIONS = {
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

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];
