/**
 * Samples the positions of one forward on sampler threads (Node worker_threads, sampler-thread.ts) and on the
 * calling thread at once.
 * Stores: per thread, its Worker handle and shared buffers (control words, task parameters, up to
 * ROWS_PER_ROUND logits rows, tokens). Lifecycle: `SamplerPool.start` waits until every thread is ready (null,
 * logged, when none can start: the engine then samples on its own thread); `sampleAll` once per forward;
 * `close` with the engine. Trade-offs: a position sampled by a thread costs a copy of its logits row into
 * shared memory (200 KB for GPT-2's vocabulary, tens of microseconds against ~1 ms of sampling); the split is
 * static (equal counts), which is fine because positions cost about the same; `sampleAll` blocks the calling
 * thread (Atomics.wait) for the threads' share, which is no worse than sampling it there. Every task carries
 * its own uniform, drawn by the caller in the order the block's generator defines, so tokens do not depend on
 * which thread drew them.
 */
import { Worker } from "node:worker_threads";
import type { EngineLogger } from "../../types.ts";
import { sampleToken, type TokenSamplingParams } from "../pipeline.ts";
import type { SoftmaxScratch } from "../softmax.ts";
import {
  allocateSamplerThreadBuffers,
  CONTROL_DONE,
  CONTROL_FAILED,
  CONTROL_GENERATION,
  CONTROL_TASK_COUNT,
  ROWS_PER_ROUND,
  TASK_WORDS,
} from "./protocol.ts";

/** Longest a sampler thread may take for one round before the pool gives up on it (a stuck or dead thread). */
const THREAD_ROUND_TIMEOUT_MS = 30_000;
const THREAD_START_TIMEOUT_MS = 30_000;

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

/** One sampler thread as the pool holds it: the Node Worker handle and views of its shared buffers. */
interface PoolThread {
  handle: Worker;
  control: Int32Array;
  tasks: Float64Array;
  logits: Float32Array;
  tokens: Int32Array;
  generation: number;
}

export class SamplerPool {
  private isBroken = false;

  private constructor(
    private readonly members: PoolThread[],
    private readonly vocabSize: number,
  ) {}

  /** Sampler threads sampling beside the caller. */
  get threads(): number {
    return this.isBroken ? 0 : this.members.length;
  }

  static async start(vocabSize: number, threads: number, logger: EngineLogger): Promise<SamplerPool | null> {
    if (threads < 1) return null;
    const started = await Promise.allSettled(Array.from({ length: threads }, () => startSamplerThread(vocabSize)));
    const members = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const failure = started.find((result) => result.status === "rejected");
    if (failure) {
      logger.warn(
        { samplerThreads: threads, started: members.length, error: String(failure.reason) },
        "sampler threads could not all start; sampling on fewer threads",
      );
    }
    if (members.length === 0) return null;
    return new SamplerPool(members, vocabSize);
  }

  /** The token of every task, exactly as `sampleToken` on one thread would draw them. */
  sampleAll(tasks: readonly PositionTask[], scratch: SoftmaxScratch): Int32Array {
    const tokens = new Int32Array(tasks.length);
    let next = 0;
    while (next < tasks.length) {
      const remaining = tasks.length - next;
      const members = this.isBroken ? [] : this.members;
      const share = Math.min(ROWS_PER_ROUND, Math.floor(remaining / (members.length + 1)));
      const dispatched: { thread: PoolThread; from: number; count: number }[] = [];
      if (share > 0) {
        for (const thread of members) {
          this.dispatch(thread, tasks, next, share);
          dispatched.push({ thread, from: next, count: share });
          next += share;
        }
      }
      // This thread's share: the rest of the round (all of it without sampler threads).
      const own = share === ROWS_PER_ROUND ? share : tasks.length - next;
      for (let i = next; i < next + own; i++) tokens[i] = sampleOne(tasks[i] as PositionTask, scratch);
      next += own;
      for (const { thread, from, count } of dispatched) {
        this.await(thread);
        tokens.set(thread.tokens.subarray(0, count), from);
      }
    }
    return tokens;
  }

  async close(): Promise<void> {
    for (const thread of this.members) {
      Atomics.store(thread.control, CONTROL_GENERATION, -1);
      Atomics.notify(thread.control, CONTROL_GENERATION);
    }
    await Promise.all(this.members.map((thread) => thread.handle.terminate()));
  }

  private dispatch(thread: PoolThread, tasks: readonly PositionTask[], from: number, count: number): void {
    const { vocabSize } = this;
    for (let i = 0; i < count; i++) {
      const task = tasks[from + i] as PositionTask;
      thread.logits.set(task.logits.subarray(task.offset, task.offset + vocabSize), i * vocabSize);
      const at = i * TASK_WORDS;
      thread.tasks[at] = task.params.maskTokenId;
      thread.tasks[at + 1] = task.params.temperature;
      thread.tasks[at + 2] = task.params.topP;
      thread.tasks[at + 3] = task.uniform;
      thread.tasks[at + 4] = task.maxLogit ?? Number.NaN;
    }
    thread.generation = (thread.generation + 1) & 0x3fff_ffff;
    Atomics.store(thread.control, CONTROL_TASK_COUNT, count);
    Atomics.store(thread.control, CONTROL_GENERATION, thread.generation);
    Atomics.notify(thread.control, CONTROL_GENERATION);
  }

  private await(thread: PoolThread): void {
    const deadline = Date.now() + THREAD_ROUND_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(thread.control, CONTROL_DONE);
      if (done === thread.generation) return;
      if (done === CONTROL_FAILED) {
        this.isBroken = true;
        throw new SamplerPoolError("a sampler thread failed while sampling (its error is logged as the thread exits)");
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.isBroken = true;
        throw new SamplerPoolError(
          `a sampler thread did not finish its positions within ${THREAD_ROUND_TIMEOUT_MS} ms`,
        );
      }
      Atomics.wait(thread.control, CONTROL_DONE, done, left);
    }
  }
}

function sampleOne(task: PositionTask, scratch: SoftmaxScratch): number {
  return sampleToken(task.logits, task.offset, task.params, { uniform: task.uniform }, scratch, task.maxLogit);
}

async function startSamplerThread(vocabSize: number): Promise<PoolThread> {
  const buffers = allocateSamplerThreadBuffers(vocabSize);
  // The same name in the source tree (it registers tsx) and in the production bundle (scripts/build.ts).
  const handle = new Worker(new URL("./sampler-thread-entry.mjs", import.meta.url), { workerData: buffers });
  handle.unref();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SamplerPoolError("sampler thread did not start in time")),
      THREAD_START_TIMEOUT_MS,
    );
    handle.once("message", () => {
      clearTimeout(timer);
      resolve();
    });
    handle.once("error", (error) => {
      clearTimeout(timer);
      reject(new SamplerPoolError("sampler thread failed to start", { cause: error }));
    });
  }).catch(async (error: unknown) => {
    await handle.terminate();
    throw error;
  });
  return {
    handle,
    control: new Int32Array(buffers.control),
    tasks: new Float64Array(buffers.tasks),
    logits: new Float32Array(buffers.logits),
    tokens: new Int32Array(buffers.tokens),
    generation: 0,
  };
}
