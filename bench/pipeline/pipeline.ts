/**
 * `npm run bench:pipeline`: the whole local stack (fauxqs + the edge in Miniflare + worker processes) against
 * the bare engine, in one run, printing one JSON line on stdout (progress on stderr). See
 * docs/benchmarks/README.md ("Pipeline") for what each number means.
 *
 *   npm run bench:pipeline -- [--max-tokens 2048] [--rounds 3] [--rtt-ms 50] [--jobs 8] [--seed 1]
 *     [--prompt "In the beginning"] [--model models/kjv-bd3lm-b16] [--strategy S] [--steps K] [--threads 1]
 *     [--kill-after-blocks 8] [--warmup-tokens 128] [--worker-env KEY=VALUE]... [--write-docs]
 *     [--skip engine,job,batch,rtt,recovery] [--job-timeout-s 900] [--recovery-timeout-s 900]
 * Every flag may also come from the environment as BENCH_PIPELINE_<FLAG> (e.g. BENCH_PIPELINE_MAX_TOKENS).
 *
 * The stack is a black box: jobs go in through the public API and come out of its SSE stream; workers are
 * `gpu-worker/src/runtime/main.ts` processes with the worker's own defaults except the local addresses and
 * what the bench needs (workers.ts), so the same bench measures any redesign of the worker-edge protocol.
 * Phases: (1) one worker: per round the engine at batch 1, one job, the engine at batch N, N concurrent jobs
 * (interleaved, the host's speed swings); (2) one worker behind a delay proxy: one job at rtt 0 and at rtt N,
 * alternating; (3) two workers: a long job, SIGKILL its holder, time to the next block, compare the text.
 * Everything started is ended on exit, errors and SIGINT/SIGTERM (workers, proxy, engine, stack).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, relative, resolve } from "node:path";
import { SamplingParamsSchema } from "@bd3-serve/shared";
import { type LocalStack, REPO_ROOT, startLocalStack } from "../../scripts/local-stack.ts";
import { type DelayProxy, startDelayProxy } from "./delay-proxy.ts";
import { createBaselineEngine, type EngineRun, runEngine } from "./engine-baseline.ts";
import { type BenchOptions, parseBenchOptions } from "./options.ts";
import { runRecovery } from "./recovery.ts";
import { buildReport, type Measurements, type ReportSettings, renderPlot } from "./report.ts";
import type { CreateBody } from "./stack-client.ts";
import { runStackJobs, type StackRun } from "./stack-jobs.ts";
import { killAllWorkers, spawnWorker, stopWorker, waitReady } from "./workers.ts";

const WORKER_READY_TIMEOUT_MS = 180_000;
const WORKER_STOP_GRACE_MS = 30_000;
const progress: string[] = [];
let isStopping = false;
const startedAtMs = performance.now();

function log(message: string, isForced = false): void {
  // After a signal the interrupted phase may still print a half-measured round: drop it.
  if (isStopping && !isForced) return;
  const line = `[bench:pipeline +${((performance.now() - startedAtMs) / 1_000).toFixed(0)}s] ${message}`;
  progress.push(line);
  process.stderr.write(`${line}\n`);
}

const opened: { stack?: LocalStack; proxy?: DelayProxy; engine?: Awaited<ReturnType<typeof createBaselineEngine>> } =
  {};

async function cleanup(): Promise<void> {
  await killAllWorkers(WORKER_STOP_GRACE_MS);
  await opened.proxy?.close().catch(() => {});
  await opened.engine?.close().catch(() => {});
  await opened.stack?.stop().catch(() => {});
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

function onSignal(signal: NodeJS.Signals): void {
  const code = SIGNAL_EXIT_CODES[signal as keyof typeof SIGNAL_EXIT_CODES] ?? 1;
  // A second signal exits at once; the exit hook in workers.ts still SIGKILLs any worker left.
  if (isStopping) process.exit(code);
  isStopping = true;
  log(`${signal}: stopping workers and the stack`, true);
  void cleanup().finally(() => process.exit(code));
}

/**
 * Miniflare installs SIGINT/SIGTERM handlers that kill workerd and exit at once, which would skip the
 * workers' drain, the proxy and the state folder's removal: the bench takes the signals over (its cleanup
 * disposes Miniflare properly; Miniflare's own exit hook still runs on exit as the last resort).
 */
function takeOverSignals(): void {
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as NodeJS.Signals[]) {
    for (const listener of process.listeners(signal)) if (listener !== onSignal) process.off(signal, listener);
    if (!process.listeners(signal).includes(onSignal)) process.on(signal, onSignal);
  }
}
takeOverSignals();

const tps = (run: { tokensPerSecond: number; tokens: number; seconds: number }) =>
  `${run.tokensPerSecond.toFixed(1)} tok/s (${run.tokens} tokens in ${run.seconds.toFixed(2)} s)`;

function workerEnvFor(stack: LocalStack, edgeUrl: string, modelDir: string, o: BenchOptions) {
  // The stack tests' workerEnv, minus its short visibility/heartbeat (the worker's defaults are what runs in
  // production, and what a crash costs depends on them); the batch must hold the concurrent jobs.
  return {
    SQS_QUEUE_URL: stack.queueUrl,
    SQS_ENDPOINT: stack.sqsEndpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EDGE_URL: edgeUrl,
    EDGE_MAX_ATTEMPTS: "3",
    MODEL_DIR: modelDir,
    MAX_BATCH_SIZE: String(Math.max(8, o.jobs)),
    INTRA_OP_NUM_THREADS: String(o.threads),
    RECEIVE_WAIT_SECONDS: "1",
    SHUTDOWN_GRACE_SECONDS: "15",
    LOG_LEVEL: "info",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...o.workerEnv,
  };
}

async function main(): Promise<void> {
  const o = parseBenchOptions(process.argv.slice(2));
  const modelDir = resolve(REPO_ROOT, o.model);
  const body: CreateBody = {
    prompt: o.prompt,
    model: o.modelName(modelDir),
    max_tokens: o.maxTokens,
    seed: o.seed,
    ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
    ...(o.steps !== undefined ? { steps_per_block: o.steps } : {}),
  };
  const { prompt: _prompt, model: _model, ...sampling } = body;
  const params = SamplingParamsSchema.parse(sampling);
  const seedsN = Array.from({ length: o.jobs }, (_, i) => o.seed + i);
  const runs = (part: string) => !o.skip.includes(part);
  const jobTimeoutMs = o.jobTimeoutSeconds * 1_000;
  const m: Measurements = {
    engine1: [],
    job1: [],
    engineN: [],
    jobN: [],
    rtt0: [],
    rttN: [],
    recovery: null,
    textIdentical: null,
    paramsMatch: null,
  };
  const engineText = new Map<number, string>();
  const checkRun = (run: StackRun) => {
    const expected = JSON.stringify({ ...params, seed: 0 }, Object.keys({ ...params, seed: 0 }).sort());
    for (const seen of run.params) {
      const got = JSON.stringify({ ...seen, seed: 0 }, Object.keys({ ...seen, seed: 0 }).sort());
      m.paramsMatch = (m.paramsMatch ?? true) && got === expected;
    }
    for (const [seed, text] of run.textBySeed) {
      const reference = engineText.get(seed);
      if (reference !== undefined) m.textIdentical = (m.textIdentical ?? true) && text === reference;
    }
    if (run.statuses.some((status) => status !== "succeeded")) throw new Error(`jobs ended ${run.statuses}`);
  };
  const keepEngineText = (run: EngineRun) => {
    for (const [seed, text] of run.textBySeed) if (!engineText.has(seed)) engineText.set(seed, text);
  };

  log(`starting the local stack (fauxqs + edge in Miniflare); model ${relative(REPO_ROOT, modelDir)}`);
  const stack = await startLocalStack({ modelDirs: [modelDir] });
  opened.stack = stack;
  takeOverSignals();
  const directEnv = workerEnvFor(stack, stack.edgeUrl, modelDir, o);
  const engine = await createBaselineEngine(directEnv);
  opened.engine = engine;
  const warm = { ...params, max_tokens: o.warmupTokens };

  // Phase 1: one worker, straight to the edge.
  if (runs("engine") || runs("job") || runs("batch")) {
    const worker = runs("job") || runs("batch") ? await spawnWorker(REPO_ROOT, "main", directEnv) : undefined;
    if (worker) await waitReady(worker, WORKER_READY_TIMEOUT_MS);
    log(`warm-up (${o.warmupTokens} tokens, batch 1 and ${o.jobs})${worker ? "; worker ready" : ""}`);
    for (const seeds of runs("batch") ? [[o.seed], seedsN] : [[o.seed]]) {
      if (runs("engine")) await runEngine(engine, o.prompt, warm, seeds);
      if (worker) await runStackJobs(stack.edgeUrl, { ...body, max_tokens: o.warmupTokens }, seeds, jobTimeoutMs);
    }
    for (let r = 1; r <= o.rounds; r++) {
      if (runs("engine")) {
        const run = await runEngine(engine, o.prompt, params, [o.seed]);
        keepEngineText(run);
        m.engine1.push(run);
        log(`round ${r}/${o.rounds}: engine batch 1: ${tps(run)}`);
      }
      if (runs("job")) {
        const run = await runStackJobs(stack.edgeUrl, body, [o.seed], jobTimeoutMs);
        checkRun(run);
        m.job1.push(run);
        log(`round ${r}/${o.rounds}: 1 job: ${tps(run)}, first block ${run.firstBlockSeconds[0]?.toFixed(2)} s`);
      }
      if (runs("batch") && runs("engine")) {
        const run = await runEngine(engine, o.prompt, params, seedsN);
        keepEngineText(run);
        m.engineN.push(run);
        log(`round ${r}/${o.rounds}: engine batch ${o.jobs}: ${tps(run)}`);
      }
      if (runs("batch")) {
        const run = await runStackJobs(stack.edgeUrl, body, seedsN, jobTimeoutMs);
        checkRun(run);
        m.jobN.push(run);
        log(`round ${r}/${o.rounds}: ${o.jobs} concurrent jobs: ${tps(run)}`);
      }
    }
    if (worker) await stopWorker(worker, WORKER_STOP_GRACE_MS);
  }

  // Phase 2: one worker behind the delay proxy; rtt 0 and rtt N alternate (order flipped every round).
  if (runs("rtt")) {
    const target = new URL(stack.edgeUrl);
    const proxy = await startDelayProxy({ targetHost: target.hostname, targetPort: Number(target.port) });
    opened.proxy = proxy;
    const worker = await spawnWorker(REPO_ROOT, "rtt", workerEnvFor(stack, proxy.url, modelDir, o));
    await waitReady(worker, WORKER_READY_TIMEOUT_MS);
    await runStackJobs(stack.edgeUrl, { ...body, max_tokens: o.warmupTokens }, [o.seed], jobTimeoutMs);
    for (let r = 1; r <= o.rounds; r++) {
      for (const rttMs of r % 2 === 1 ? [0, o.rttMs] : [o.rttMs, 0]) {
        proxy.rttMs = rttMs;
        const run = await runStackJobs(stack.edgeUrl, body, [o.seed], jobTimeoutMs);
        checkRun(run);
        (rttMs === 0 ? m.rtt0 : m.rttN).push(run);
        log(`round ${r}/${o.rounds}: 1 job at worker-edge rtt ${rttMs} ms: ${tps(run)}`);
      }
    }
    log(`delay proxy: ${proxy.acceptedConnections} connections from the worker in all`);
    await stopWorker(worker, WORKER_STOP_GRACE_MS);
    await proxy.close();
    opened.proxy = undefined;
  }

  // Phase 3: crash recovery with two workers.
  if (runs("recovery")) {
    if (!engineText.has(o.seed)) keepEngineText(await runEngine(engine, o.prompt, params, [o.seed]));
    try {
      m.recovery = await runRecovery({
        repoRoot: REPO_ROOT,
        edgeUrl: stack.edgeUrl,
        workerEnv: directEnv,
        body,
        referenceText: engineText.get(o.seed),
        killAfterBlocks: o.killAfterBlocks,
        timeoutMs: o.recoveryTimeoutSeconds * 1_000,
        readyTimeoutMs: WORKER_READY_TIMEOUT_MS,
        stopGraceMs: WORKER_STOP_GRACE_MS,
        log,
      });
    } catch (error) {
      m.recovery = { error: error instanceof Error ? error.message : String(error) };
      log(`recovery failed: ${m.recovery.error}`);
      process.exitCode = 1;
    }
  }

  await cleanup();
  opened.engine = undefined;
  opened.stack = undefined;
  const settings: ReportSettings = {
    model: relative(REPO_ROOT, modelDir),
    prompt: o.prompt,
    max_tokens: o.maxTokens,
    seed: o.seed,
    strategy: params.strategy,
    rounds: o.rounds,
    rtt_ms: o.rttMs,
    concurrent_jobs: o.jobs,
    kill_after_blocks: o.killAfterBlocks,
    skip: o.skip,
    worker_env: Object.fromEntries(
      Object.entries(directEnv).filter(([key]) => !/^(SQS_|EDGE_URL|AWS_|MODEL_DIR)/.test(key)),
    ),
  };
  const report = buildReport(m, settings, (performance.now() - startedAtMs) / 1_000, REPO_ROOT);
  const line = JSON.stringify(report);
  log("done");
  if (o.writeDocs) {
    const dir = join(REPO_ROOT, "docs", "benchmarks");
    mkdirSync(dir, { recursive: true });
    const date = report.date.slice(0, 10);
    const textPath = join(dir, `pipeline-${date}-cpu-${cpus().length}core.txt`);
    const svgPath = join(dir, `pipeline-${date}.svg`);
    const command = `npm run bench:pipeline -- ${process.argv.slice(2).map(shellQuote).join(" ")}`.trim();
    writeFileSync(textPath, `$ ${command}\n\n${line}\n\nprogress (stderr):\n${progress.join("\n")}\n`);
    writeFileSync(svgPath, renderPlot(report, settings));
    log(`wrote ${relative(REPO_ROOT, textPath)} and ${relative(REPO_ROOT, svgPath)}`);
  }
  process.stdout.write(`${line}\n`);
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

main().catch(async (error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanup();
  process.exit(1);
});
