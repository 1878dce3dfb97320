/**
 * Worker processes for the pipeline bench: `node --import tsx gpu-worker/src/runtime/main.ts` (what
 * `npm run worker` runs) as a child, with the local stack's settings, waited on until its `/readyz` answers
 * 200, stopped with SIGTERM (drain) or killed with SIGKILL (a crash).
 *
 * Why node --import tsx rather than the tsx CLI: the CLI runs the script in a grandchild process, so a
 * SIGKILL of the child would leave the real worker running; here the child's pid is the worker.
 *
 * The worker is a black box: readiness comes from its health server on a port chosen here (METRICS_PORT),
 * and which jobs it holds from its JSON log lines (`job_id` is on every job line) with its `/metrics` gauge
 * `bd3_worker_jobs_held` as the fallback. Every child is registered so the bench can end them all on errors
 * and signals (`killAllWorkers`), and a last synchronous SIGKILL runs on process exit: no orphans.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

const LOG_TAIL_CHARS = 100_000;
const READY_POLL_MS = 100;

export interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly healthPort: number;
  /** Job ids named in this worker's log lines so far. */
  readonly jobIdsSeen: Set<string>;
  /** The last LOG_TAIL_CHARS of its stdout + stderr. */
  output(): string;
  exited: Promise<number | string>;
  isRunning(): boolean;
}

const running = new Set<WorkerProcess>();

/** A free TCP port on 127.0.0.1 (bound and released; the worker binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** Starts a worker; `env` is its whole environment beside PATH and HOME (nothing else leaks in). */
export async function spawnWorker(repoRoot: string, name: string, env: Record<string, string>): Promise<WorkerProcess> {
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      "--disable-warning=NodeVersionSupportWarning",
      "--import",
      "tsx",
      join(repoRoot, "gpu-worker/src/runtime/main.ts"),
    ],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        ...env,
        METRICS_PORT: String(healthPort),
        METRICS_HOST: "127.0.0.1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  let partialLine = "";
  const jobIdsSeen = new Set<string>();
  const onChunk = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-LOG_TAIL_CHARS);
    const lines = (partialLine + text).split("\n");
    partialLine = lines.pop() ?? "";
    for (const line of lines) {
      const jobId = /"job_id":"([^"]+)"/.exec(line)?.[1];
      if (jobId !== undefined) jobIdsSeen.add(jobId);
    }
  };
  child.stdout?.on("data", onChunk);
  child.stderr?.on("data", onChunk);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const worker: WorkerProcess = {
    name,
    child,
    healthPort,
    jobIdsSeen,
    output: () => output,
    exited,
    isRunning: () => child.exitCode === null && child.signalCode === null,
  };
  running.add(worker);
  void exited.then(() => running.delete(worker));
  return worker;
}

/** Waits until the worker's /readyz answers 200 (model loaded, queue reachable); fails if it exits first. */
export async function waitReady(worker: WorkerProcess, timeoutMs: number): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  for (;;) {
    if (!worker.isRunning())
      throw new Error(`worker ${worker.name} exited before it was ready:\n${worker.output().slice(-4_000)}`);
    try {
      const reply = await fetch(`http://127.0.0.1:${worker.healthPort}/readyz`);
      await reply.body?.cancel();
      if (reply.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadlineMs)
      throw new Error(`worker ${worker.name} not ready after ${timeoutMs} ms:\n${worker.output().slice(-4_000)}`);
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

/** The worker's `bd3_worker_jobs_held` gauge (messages it holds), or undefined when it does not answer. */
export async function jobsHeld(worker: WorkerProcess): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text();
    const line = text.split("\n").find((each) => /^bd3_worker_jobs_held(\{[^}]*\})? /.test(each));
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  } catch {
    return undefined;
  }
}

/** SIGTERM (the worker drains), then SIGKILL if it has not exited within `graceMs`. */
export async function stopWorker(worker: WorkerProcess, graceMs: number): Promise<number | string> {
  if (!worker.isRunning()) return worker.exited;
  worker.child.kill("SIGTERM");
  const timer = setTimeout(() => worker.child.kill("SIGKILL"), graceMs);
  const code = await worker.exited;
  clearTimeout(timer);
  return code;
}

/** Ends every worker still running (errors, signals). */
export async function killAllWorkers(graceMs: number): Promise<void> {
  await Promise.all([...running].map((worker) => stopWorker(worker, graceMs)));
}

// Last resort when the bench exits without its cleanup (an uncaught error): no worker outlives it.
process.once("exit", () => {
  for (const worker of running) if (worker.isRunning()) worker.child.kill("SIGKILL");
});
