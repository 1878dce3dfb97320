/**
 * Shared-memory layout between the sampler pool (the engine's thread) and one sampler thread (a Node
 * worker_threads Worker, sampler-thread.ts). Everything is in SharedArrayBuffers handed over once at start, so
 * a forward's positions reach the thread with a copy and an Atomics.notify, no message (a thread blocked in
 * Atomics.wait could not read one anyway).
 */

/** Int32 control words. */
export const CONTROL_GENERATION = 0; // bumped by the pool for each batch of tasks; -1 stops the thread
export const CONTROL_TASK_COUNT = 1;
export const CONTROL_DONE = 2; // the generation the thread finished last, or CONTROL_FAILED
export const CONTROL_FAILED = -2;
export const CONTROL_WORDS = 3;

/** Float64 words per task: mask token id, temperature, top_p, uniform, max logit (NaN: search it). */
export const TASK_WORDS = 5;

/** Logits rows one thread holds per round; a forward with more tasks runs in several rounds. */
export const ROWS_PER_ROUND = 32;

export interface SamplerThreadBuffers {
  vocabSize: number;
  control: SharedArrayBuffer;
  tasks: SharedArrayBuffer;
  logits: SharedArrayBuffer;
  tokens: SharedArrayBuffer;
}

export function allocateSamplerThreadBuffers(vocabSize: number): SamplerThreadBuffers {
  return {
    vocabSize,
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    tasks: new SharedArrayBuffer(ROWS_PER_ROUND * TASK_WORDS * 8),
    logits: new SharedArrayBuffer(ROWS_PER_ROUND * vocabSize * 4),
    tokens: new SharedArrayBuffer(ROWS_PER_ROUND * 4),
  };
}
