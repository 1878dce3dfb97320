/**
 * Timed jobs through the whole stack (edge -> SQS -> worker -> edge), measured the way a client sees them:
 * from the create request to the `done` event of the job's SSE stream, tokens as the edge counted them.
 * Several jobs are created at once (one create request each, in parallel) and timed together: from the
 * first create to the last `done`, so the aggregate rate includes how fast the worker fills its batch.
 * Tokens, params and status come from the `done` event's summary and the text from the streamed blocks, so
 * nothing after the clock stops (and no inline-text field of the job view) is needed.
 */
import type { JobView } from "@bd3-serve/shared";
import { type CreateBody, createGeneration, followGeneration } from "./stack-client.ts";

export interface StackRun {
  seconds: number;
  tokens: number;
  tokensPerSecond: number;
  /** Create -> first block seen by the client, per job, seconds (first job's for a single job). */
  firstBlockSeconds: number[];
  textBySeed: Map<number, string>;
  tokensBySeed: Map<number, number>;
  /** Sampling params as the edge stored them (to check the engine baseline used the same). */
  params: JobView["params"][];
  statuses: string[];
}

export async function runStackJobs(
  edgeUrl: string,
  base: Omit<CreateBody, "seed">,
  seeds: readonly number[],
  timeoutMs: number,
): Promise<StackRun> {
  const startedAtMs = performance.now();
  const results = await Promise.all(
    seeds.map(async (seed) => {
      const createdAtMs = performance.now();
      const job = await createGeneration(edgeUrl, { ...base, seed });
      let firstBlockAtMs: number | undefined;
      const followed = await followGeneration(edgeUrl, job, {
        timeoutMs,
        onBlock: (_block, atMs) => {
          firstBlockAtMs ??= atMs;
        },
      });
      return { seed, job, createdAtMs, firstBlockAtMs, followed };
    }),
  );
  const doneAtMs = Math.max(...results.map((result) => result.followed.doneAtMs));
  const textBySeed = new Map<number, string>();
  const tokensBySeed = new Map<number, number>();
  let tokens = 0;
  for (const { seed, followed } of results) {
    textBySeed.set(seed, followed.text);
    tokensBySeed.set(seed, followed.summary.progress.tokens);
    tokens += followed.summary.progress.tokens;
  }
  const seconds = (doneAtMs - startedAtMs) / 1_000;
  return {
    seconds,
    tokens,
    tokensPerSecond: tokens / seconds,
    firstBlockSeconds: results.map((result) =>
      result.firstBlockAtMs === undefined ? Number.NaN : (result.firstBlockAtMs - result.createdAtMs) / 1_000,
    ),
    textBySeed,
    tokensBySeed,
    params: results.map(({ followed }) => followed.summary.params),
    statuses: results.map(({ followed }) => followed.summary.status),
  };
}
