/**
 * Crash recovery, timed from outside: two workers wait on the queue, a long job starts on one of them, and
 * once the client has seen a few of its blocks that worker is SIGKILLed. The time from the kill to the next
 * block a client sees is how long a crash stalls a document (today: until SQS makes the message visible
 * again, then lease, prefill and one block on the other worker). The finished text must equal an
 * uninterrupted run's (the engine's randomness is per seed and block index, so a resume is exact).
 *
 * Which worker holds the job: its log lines name the job (`job_id`), with the `bd3_worker_jobs_held` gauge
 * of each worker's /metrics as the fallback when the logs say nothing or name it twice.
 * "Next block": blocks the dead worker had already sent may still reach the client just after the kill, so
 * the committed count is read from the edge once the process is gone (plus a short settle), and the first
 * block at or past that index is the recovery. A recovery faster than the settle would be timed one block
 * late; today's recoveries take minutes.
 */
import type { Block } from "@bd3-serve/shared";
import { type CreateBody, createGeneration, followGeneration, getGeneration } from "./stack-client.ts";
import { jobsHeld, spawnWorker, stopWorker, type WorkerProcess, waitReady } from "./workers.ts";

/** After the killed process is gone, how long its last requests may still take to land on the edge. */
const SETTLE_MS = 250;

export interface RecoveryOptions {
  repoRoot: string;
  edgeUrl: string;
  workerEnv: Record<string, string>;
  body: CreateBody;
  /** The uninterrupted run's text for the same prompt, params and seed. */
  referenceText: string | undefined;
  killAfterBlocks: number;
  timeoutMs: number;
  readyTimeoutMs: number;
  stopGraceMs: number;
  log: (message: string) => void;
}

export interface RecoveryResult {
  seconds: number;
  textIdentical: boolean | null;
  blocksSeenAtKill: number;
  resumedAtBlock: number;
  holderFoundBy: "logs" | "metrics";
  /** Create -> done of the interrupted job. */
  jobSeconds: number;
  status: string;
  tokens: number;
}

async function findHolder(workers: WorkerProcess[], jobId: string) {
  const byLogs = workers.filter((worker) => worker.jobIdsSeen.has(jobId));
  if (byLogs.length === 1) return { holder: byLogs[0] as WorkerProcess, foundBy: "logs" as const };
  const held = await Promise.all(workers.map((worker) => jobsHeld(worker)));
  const byMetrics = workers.filter((_, i) => (held[i] ?? 0) > 0);
  if (byMetrics.length === 1) return { holder: byMetrics[0] as WorkerProcess, foundBy: "metrics" as const };
  throw new Error(`cannot tell which worker holds ${jobId}: logs name ${byLogs.length}, jobs_held ${held.join("/")}`);
}

export async function runRecovery(options: RecoveryOptions): Promise<RecoveryResult> {
  const { edgeUrl, log } = options;
  const workers = await Promise.all(
    ["recovery-a", "recovery-b"].map((name) =>
      spawnWorker(options.repoRoot, name, { ...options.workerEnv, WORKER_ID: `bench-${name}` }),
    ),
  );
  try {
    await Promise.all(workers.map((worker) => waitReady(worker, options.readyTimeoutMs)));
    log(`recovery: two workers ready; starting a ${options.body.max_tokens}-token job`);
    const createdAtMs = performance.now();
    const job = await createGeneration(edgeUrl, options.body);

    const arrivalsMs = new Map<number, number>();
    let onArrival: ((block: Block) => void) | undefined;
    let resolveKillPoint: () => void = () => {};
    const killPoint = new Promise<void>((resolve) => {
      resolveKillPoint = resolve;
    });
    const followed = followGeneration(edgeUrl, job, {
      timeoutMs: options.timeoutMs,
      onBlock: (block, atMs) => {
        arrivalsMs.set(block.index, atMs);
        if (arrivalsMs.size >= options.killAfterBlocks) resolveKillPoint();
        onArrival?.(block);
      },
    });
    const first = await Promise.race([killPoint.then(() => "kill" as const), followed.then(() => "done" as const)]);
    if (first === "done") throw new Error(`the job ended before ${options.killAfterBlocks} blocks: raise --max-tokens`);

    const { holder, foundBy } = await findHolder(workers, job.id);
    const blocksSeenAtKill = arrivalsMs.size;
    const killedAtMs = performance.now();
    holder.child.kill("SIGKILL");
    await holder.exited;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const resumedAtBlock = (await getGeneration(edgeUrl, job.id)).progress.blocks;
    log(
      `recovery: SIGKILLed ${holder.name} (found by ${foundBy}) after ${blocksSeenAtKill} blocks seen; ` +
        `${resumedAtBlock} committed; waiting for block ${resumedAtBlock}`,
    );

    const nextArrivalMs = await Promise.race([
      new Promise<number>((resolve) => {
        const already = [...arrivalsMs].find(([index]) => index >= resumedAtBlock);
        if (already !== undefined) resolve(already[1]);
        onArrival = (block) => {
          if (block.index >= resumedAtBlock) resolve(arrivalsMs.get(block.index) as number);
        };
      }),
      followed.then(() => Number.NaN),
    ]);
    const seconds = (nextArrivalMs - killedAtMs) / 1_000;
    log(`recovery: next block after ${seconds.toFixed(1)} s; waiting for the job to finish`);
    const result = await followed;
    return {
      seconds,
      textIdentical: options.referenceText === undefined ? null : result.text === options.referenceText,
      blocksSeenAtKill,
      resumedAtBlock,
      holderFoundBy: foundBy,
      jobSeconds: (result.doneAtMs - createdAtMs) / 1_000,
      status: result.summary.status,
      tokens: result.summary.progress.tokens,
    };
  } finally {
    await Promise.all(workers.map((worker) => stopWorker(worker, options.stopGraceMs)));
  }
}
