/**
 * GPU workers (fleet members) on the local stack: in this process (`startInProcessWorker`, the real engine,
 * metrics readable) or as a child process (`npm run worker`'s entry, so signals and crashes are real), and
 * reading what they report (JSON log lines, counters).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { engineOptionsFromConfig } from "../../gpu-worker/src/config/engine-options.ts";
import { loadConfig } from "../../gpu-worker/src/config/load-config.ts";
import { createEngine } from "../../gpu-worker/src/engine/index.ts";
import { createLogger, silentLogger } from "../../gpu-worker/src/runtime/observability/logger.ts";
import { startWorker, type Worker } from "../../gpu-worker/src/runtime/worker.ts";
import { workerEnv } from "./stack-env.ts";
import { REPO_ROOT } from "./test-model.ts";

export interface InProcessWorker {
  worker: Worker;
  stop(): Promise<boolean>;
}

export async function startInProcessWorker(overrides: Record<string, string> = {}): Promise<InProcessWorker> {
  const config = loadConfig({ env: workerEnv(overrides), envFile: null });
  const logger =
    config.logLevel === "silent" ? silentLogger() : createLogger({ level: config.logLevel, workerId: config.workerId });
  const engine = await createEngine(engineOptionsFromConfig(config.engine));
  const worker = await startWorker(config, { engine, logger });
  return { worker, stop: () => worker.stop(Date.now() + 10_000) };
}

export interface ChildWorker {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Runs the worker entry (`npm run worker` = tsx gpu-worker/src/runtime/main.ts) as a child process. */
export function spawnWorker(overrides: Record<string, string> = {}): ChildWorker {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "gpu-worker/src/runtime/main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...workerEnv({ LOG_LEVEL: "info", ...overrides }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-50_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | string>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown"));
  });
  return { child, output: () => output, exited };
}

/** Lines of a child worker's JSON log with this `msg`. */
export function logLines(output: string, msg: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

/** Counter values of a worker's metric by label value (e.g. blocks appended by result). */
export async function counterValues(worker: Worker, name: "blocksAppended" | "jobs"): Promise<Record<string, number>> {
  const metric = await worker.metrics[name].get();
  return Object.fromEntries(metric.values.map((value) => [String(Object.values(value.labels)[0]), value.value]));
}
