/**
 * One sampler thread (a Node worker_threads Worker; "worker" elsewhere in this package is the fleet member):
 * waits on its control word, samples the tasks the pool copied into shared memory with the same pipeline as
 * the engine's thread (sampleToken), writes the tokens back, and signals done. Pure with respect to its inputs
 * (each task carries its own uniform), so which thread samples a position never changes its token.
 * Lifecycle: started by SamplerPool (through sampler-thread-entry.mjs), stopped by generation -1 (or
 * terminated).
 */
import { parentPort, workerData } from "node:worker_threads";
import { sampleToken } from "../pipeline.ts";
import { createSoftmaxScratch } from "../softmax.ts";
import {
  CONTROL_DONE,
  CONTROL_FAILED,
  CONTROL_GENERATION,
  CONTROL_TASK_COUNT,
  type SamplerThreadBuffers,
  TASK_WORDS,
} from "./protocol.ts";

const buffers = workerData as SamplerThreadBuffers;
const { vocabSize } = buffers;
const control = new Int32Array(buffers.control);
const tasks = new Float64Array(buffers.tasks);
const logits = new Float32Array(buffers.logits);
const tokens = new Int32Array(buffers.tokens);
const scratch = createSoftmaxScratch(vocabSize);

// Read before announcing readiness: the pool's first batch may bump the generation right after it.
let seen = Atomics.load(control, CONTROL_GENERATION);
parentPort?.postMessage("ready");
for (;;) {
  Atomics.wait(control, CONTROL_GENERATION, seen);
  seen = Atomics.load(control, CONTROL_GENERATION);
  if (seen < 0) break;
  const count = Atomics.load(control, CONTROL_TASK_COUNT);
  try {
    sampleTasks(count);
  } catch (error) {
    // Tell the pool now rather than let it wait out its timeout, then die with the error.
    Atomics.store(control, CONTROL_DONE, CONTROL_FAILED);
    Atomics.notify(control, CONTROL_DONE);
    throw error;
  }
  Atomics.store(control, CONTROL_DONE, seen);
  Atomics.notify(control, CONTROL_DONE);
}

function sampleTasks(count: number): void {
  for (let i = 0; i < count; i++) {
    const at = i * TASK_WORDS;
    const uniform = tasks[at + 3] as number;
    const maxLogit = tasks[at + 4] as number;
    tokens[i] = sampleToken(
      logits,
      i * vocabSize,
      {
        vocabSize,
        maskTokenId: tasks[at] as number,
        temperature: tasks[at + 1] as number,
        topP: tasks[at + 2] as number,
      },
      { uniform },
      scratch,
      Number.isNaN(maxLogit) ? undefined : maxLogit,
    );
  }
}
