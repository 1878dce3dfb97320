/**
 * The pipeline bench's settings: command-line flags, each also readable from the environment as
 * BENCH_PIPELINE_<FLAG> (upper case, dashes as underscores) so CI or a wrapper can set them without
 * rewriting the command; a flag wins over its variable. Bad values stop the bench before anything starts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

export const PARTS = ["engine", "job", "batch", "rtt", "recovery"] as const;
const STRATEGIES = ["first_hitting", "ddpm", "confidence"] as const;

const USAGE = `usage: npm run bench:pipeline -- [--max-tokens N] [--rounds N] [--rtt-ms MS] [--jobs N] [--seed S]
  [--prompt TEXT] [--model DIR] [--strategy first_hitting|ddpm|confidence] [--steps K] [--threads N]
  [--kill-after-blocks N] [--warmup-tokens N] [--worker-env KEY=VALUE]... [--skip ${PARTS.join(",")}]
  [--job-timeout-s S] [--recovery-timeout-s S] [--write-docs]`;

const STRING_FLAGS = {
  model: "models/kjv-bd3lm-b16",
  prompt: "In the beginning",
  "max-tokens": "2048",
  seed: "1",
  strategy: "",
  steps: "",
  rounds: "3",
  "rtt-ms": "50",
  jobs: "8",
  threads: "1",
  "kill-after-blocks": "8",
  "warmup-tokens": "128",
  "job-timeout-s": "900",
  "recovery-timeout-s": "900",
} as const;

function fromEnv(flag: string): string | undefined {
  const value = process.env[`BENCH_PIPELINE_${flag.toUpperCase().replaceAll("-", "_")}`];
  return value === undefined || value === "" ? undefined : value;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function integer(flag: string, value: string, min: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) fail(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return parsed;
}

export function parseBenchOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(STRING_FLAGS).map((flag) => [flag, { type: "string" as const }])),
      skip: { type: "string", multiple: true },
      "worker-env": { type: "string", multiple: true },
      "write-docs": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const given = values as Record<string, unknown>;
  const get = (flag: keyof typeof STRING_FLAGS): string =>
    (given[flag] as string | undefined) ?? fromEnv(flag) ?? STRING_FLAGS[flag];
  const skip = [...(values.skip ?? []), ...(fromEnv("skip") ? [fromEnv("skip") as string] : [])]
    .flatMap((entry) => entry.split(","))
    .map((part) => part.trim())
    .filter((part) => part !== "");
  for (const part of skip) if (!(PARTS as readonly string[]).includes(part)) fail(`--skip: unknown part "${part}"`);
  const workerEnv: Record<string, string> = {};
  const envEntries = [...(values["worker-env"] ?? []), ...(fromEnv("worker-env")?.split(/\s+/) ?? [])];
  for (const entry of envEntries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) fail(`--worker-env wants KEY=VALUE, got "${entry}"`);
    workerEnv[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const strategy = get("strategy");
  if (strategy !== "" && !(STRATEGIES as readonly string[]).includes(strategy))
    fail(`--strategy must be one of ${STRATEGIES.join(", ")}`);
  const steps = get("steps");
  return {
    model: get("model"),
    prompt: get("prompt"),
    maxTokens: integer("max-tokens", get("max-tokens"), 1),
    seed: integer("seed", get("seed"), 0),
    strategy: strategy === "" ? undefined : (strategy as (typeof STRATEGIES)[number]),
    steps: steps === "" ? undefined : integer("steps", steps, 1),
    rounds: integer("rounds", get("rounds"), 1),
    rttMs: integer("rtt-ms", get("rtt-ms"), 1),
    jobs: integer("jobs", get("jobs"), 2),
    threads: integer("threads", get("threads"), 1),
    killAfterBlocks: integer("kill-after-blocks", get("kill-after-blocks"), 1),
    warmupTokens: integer("warmup-tokens", get("warmup-tokens"), 1),
    jobTimeoutSeconds: integer("job-timeout-s", get("job-timeout-s"), 1),
    recoveryTimeoutSeconds: integer("recovery-timeout-s", get("recovery-timeout-s"), 1),
    skip,
    workerEnv,
    writeDocs: values["write-docs"] === true || fromEnv("write-docs") === "1",
    /** The model name jobs ask for: the package manifest's `name`. */
    modelName(modelDir: string): string {
      try {
        return (JSON.parse(readFileSync(join(modelDir, "manifest.json"), "utf8")) as { name: string }).name;
      } catch {
        fail(`--model ${modelDir}: no readable manifest.json`);
      }
    },
  };
}

export type BenchOptions = ReturnType<typeof parseBenchOptions>;
