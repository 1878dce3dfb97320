/**
 * Samples the positions of one forward on worker threads and on the calling thread at once.
 * Stores: per worker, its Worker and shared buffers (control words, task parameters, up to ROWS_PER_ROUND
 * logits rows, tokens). Lifecycle: `startSamplerPool` waits until every worker is ready (null, logged, when
 * none can start: the engine then samples on its own thread); `sampleAll` once per forward; `close` with the
 * engine. Trade-offs: a position sampled by a worker costs a copy of its logits row into shared memory (200 KB
 * for GPT-2's vocabulary, tens of microseconds against ~1 ms of sampling); the split is static (equal counts),
 * which is fine because positions cost about the same; `sampleAll` blocks the calling thread (Atomics.wait)
 * for the workers' share, which is no worse than sampling it there. Every task carries its own uniform, drawn by
 * the caller in the order the block's generator defines, so tokens do not depend on which thread drew them.
 */
import { Worker } from "node:worker_threads";
import type { EngineLogger } from "../../types.ts";
import { sampleToken, type TokenSamplingParams } from "../pipeline.ts";
import type { SoftmaxScratch } from "../softmax.ts";
import {
  allocateWorkerBuffers,
  CONTROL_DONE,
  CONTROL_FAILED,
  CONTROL_GENERATION,
  CONTROL_TASK_COUNT,
  ROWS_PER_ROUND,
  TASK_WORDS,
} from "./protocol.ts";

/** Longest a worker may take for one round before the pool gives up on it (a stuck or dead thread). */
const WORKER_ROUND_TIMEOUT_MS = 30_000;
const WORKER_START_TIMEOUT_MS = 30_000;

/** One position to sample: its logits row, parameters, the uniform of its draw and, if known, its max logit. */
export interface PositionTask {
  logits: Float32Array;
  offset: number;
  params: TokenSamplingParams;
  uniform: number;
  maxLogit: number | undefined;
}

export class SamplerPoolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SamplerPoolError";
  }
}

interface PoolWorker {
  worker: Worker;
  control: Int32Array;
  tasks: Float64Array;
  logits: Float32Array;
  tokens: Int32Array;
  generation: number;
}

export class SamplerPool {
  private isBroken = false;

  private constructor(
    private readonly workers: PoolWorker[],
    private readonly vocabSize: number,
  ) {}

  /** Worker threads sampling beside the caller. */
  get threads(): number {
    return this.isBroken ? 0 : this.workers.length;
  }

  static async start(vocabSize: number, threads: number, logger: EngineLogger): Promise<SamplerPool | null> {
    if (threads < 1) return null;
    const started = await Promise.allSettled(Array.from({ length: threads }, () => startWorker(vocabSize)));
    const workers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const failure = started.find((result) => result.status === "rejected");
    if (failure) {
      logger.warn(
        { samplerThreads: threads, started: workers.length, error: String(failure.reason) },
        "sampler worker threads could not all start; sampling on fewer threads",
      );
    }
    if (workers.length === 0) return null;
    return new SamplerPool(workers, vocabSize);
  }

  /** The token of every task, exactly as `sampleToken` on one thread would draw them. */
  sampleAll(tasks: readonly PositionTask[], scratch: SoftmaxScratch): Int32Array {
    const tokens = new Int32Array(tasks.length);
    let next = 0;
    while (next < tasks.length) {
      const remaining = tasks.length - next;
      const workers = this.isBroken ? [] : this.workers;
      const share = Math.min(ROWS_PER_ROUND, Math.floor(remaining / (workers.length + 1)));
      const dispatched: { worker: PoolWorker; from: number; count: number }[] = [];
      if (share > 0) {
        for (const worker of workers) {
          this.dispatch(worker, tasks, next, share);
          dispatched.push({ worker, from: next, count: share });
          next += share;
        }
      }
      // This thread's share: the rest of the round (all of it without workers).
      const own = share === ROWS_PER_ROUND ? share : tasks.length - next;
      for (let i = next; i < next + own; i++) tokens[i] = sampleOne(tasks[i] as PositionTask, scratch);
      next += own;
      for (const { worker, from, count } of dispatched) {
        this.await(worker);
        tokens.set(worker.tokens.subarray(0, count), from);
      }
    }
    return tokens;
  }

  async close(): Promise<void> {
    for (const worker of this.workers) {
      Atomics.store(worker.control, CONTROL_GENERATION, -1);
      Atomics.notify(worker.control, CONTROL_GENERATION);
    }
    await Promise.all(this.workers.map((worker) => worker.worker.terminate()));
  }

  private dispatch(worker: PoolWorker, tasks: readonly PositionTask[], from: number, count: number): void {
    const { vocabSize } = this;
    for (let i = 0; i < count; i++) {
      const task = tasks[from + i] as PositionTask;
      worker.logits.set(task.logits.subarray(task.offset, task.offset + vocabSize), i * vocabSize);
      const at = i * TASK_WORDS;
      worker.tasks[at] = task.params.maskTokenId;
      worker.tasks[at + 1] = task.params.temperature;
      worker.tasks[at + 2] = task.params.topP;
      worker.tasks[at + 3] = task.uniform;
      worker.tasks[at + 4] = task.maxLogit ?? Number.NaN;
    }
    worker.generation = (worker.generation + 1) & 0x3fff_ffff;
    Atomics.store(worker.control, CONTROL_TASK_COUNT, count);
    Atomics.store(worker.control, CONTROL_GENERATION, worker.generation);
    Atomics.notify(worker.control, CONTROL_GENERATION);
  }

  private await(worker: PoolWorker): void {
    const deadline = Date.now() + WORKER_ROUND_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(worker.control, CONTROL_DONE);
      if (done === worker.generation) return;
      if (done === CONTROL_FAILED) {
        this.isBroken = true;
        throw new SamplerPoolError("a sampler worker failed while sampling (its error is logged as the worker exits)");
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.isBroken = true;
        throw new SamplerPoolError(
          `a sampler worker did not finish its positions within ${WORKER_ROUND_TIMEOUT_MS} ms`,
        );
      }
      Atomics.wait(worker.control, CONTROL_DONE, done, left);
    }
  }
}

function sampleOne(task: PositionTask, scratch: SoftmaxScratch): number {
  return sampleToken(task.logits, task.offset, task.params, { uniform: task.uniform }, scratch, task.maxLogit);
}

async function startWorker(vocabSize: number): Promise<PoolWorker> {
  const buffers = allocateWorkerBuffers(vocabSize);
  const worker = new Worker(new URL("./worker-entry.mjs", import.meta.url), { workerData: buffers });
  worker.unref();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SamplerPoolError("sampler worker did not start in time")),
      WORKER_START_TIMEOUT_MS,
    );
    worker.once("message", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.once("error", (error) => {
      clearTimeout(timer);
      reject(new SamplerPoolError("sampler worker failed to start", { cause: error }));
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  return {
    worker,
    control: new Int32Array(buffers.control),
    tasks: new Float64Array(buffers.tasks),
    logits: new Float32Array(buffers.logits),
    tokens: new Int32Array(buffers.tokens),
    generation: 0,
  };
}
