/**
 * `npm run bench:streams`: what stream readers cost the edge, measured on the embedded local stack (fauxqs +
 * the edge bundled as deployed, in Miniflare/workerd) with a stand-in worker writing synthetic blocks through
 * the real queue message, lease and block stream. Prints one JSON line:
 *
 * - `paused`: PAUSED_READERS readers that never read, on one running document of DOC_MIB, for each read path
 *   (SSE block events, the text stream's SSE, the text stream's catch-up pages): workerd's RSS growth while
 *   they hang (goal: <= 64 MiB, whatever the document's length), what the kernel's socket queues hold, and the
 *   RSS after they went (released). A control row holds the same number of connections on a cheap request (a
 *   long-poll at the tail) to separate the cost of a connection from the cost of a reader.
 * - `live`: LIVE_JOBS jobs with READERS_PER_JOB live SSE readers each while blocks are written to all of them:
 *   whether every reader got every block in order and `done`, and workerd's peak RSS growth.
 *
 * The per-job and per-tenant reader caps (32 and 256 by default) are raised for the run: they bound how many
 * readers there are; this bench measures what each one costs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { BlockRecord, JobView } from "@bd3-serve/shared";
import { startLocalStack } from "../../scripts/local-stack.ts";
import { finishJob, leaseJob, openWriter, receiveJobMessages, writeBlocks } from "../../tests/support/synthetic-job.ts";
import { followBlocks, kernelQueuedMiB, openPausedReader, type PausedReader } from "./readers.ts";
import { rssMiB, sampleRss, workerdPids } from "./workerd-memory.ts";

const env = process.env;
const PAUSED_READERS = Number(env.PAUSED_READERS ?? 200);
const DOC_MIB = Number(env.DOC_MIB ?? 6);
const LIVE_JOBS = Number(env.LIVE_JOBS ?? 100);
const READERS_PER_JOB = Number(env.READERS_PER_JOB ?? 10);
const LIVE_BLOCKS = Number(env.LIVE_BLOCKS ?? 40);
/** How long paused readers hang before memory is read (the edge has pushed what the sockets take by then). */
const HOLD_SECONDS = Number(env.HOLD_SECONDS ?? 6);
/** How long after the readers went before the "released" reading (GC and freed buffers). */
const SETTLE_SECONDS = Number(env.SETTLE_SECONDS ?? 6);
const API_KEY = "bd3_dev_0123456789abcdef0123456789abcdef";
/** One synthetic block: ~32 KiB of mixed-width UTF-8 (the 64 KiB block limit halved) and 64 tokens. */
const BLOCK_TEXT = "In the beginning é € 😀 ñ 日本 ".repeat(880);
const TOKENS_PER_BLOCK = 64;

function* syntheticBlocks(from: number, count: number): Generator<BlockRecord> {
  for (let index = from; index < from + count; index++) {
    yield { index, text: `[${index}] ${BLOCK_TEXT}`, token_ids: Array.from({ length: TOKENS_PER_BLOCK }, (_, i) => i) };
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function progress(line: string): void {
  process.stderr.write(`[bench:streams] ${line}\n`);
}

async function createJobs(edgeUrl: string, count: number): Promise<JobView[]> {
  const jobs: JobView[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await fetch(new URL("/v1/generations", edgeUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "In the beginning", max_tokens: 1_048_576 }),
    });
    if (reply.status !== 201 && reply.status !== 202) throw new Error(`create: ${reply.status} ${await reply.text()}`);
    jobs.push((await reply.json()) as JobView);
  }
  return jobs;
}

async function main(): Promise<void> {
  const stack = await startLocalStack({
    vars: {
      STREAM_READERS_PER_JOB_MAX: "100000",
      STREAM_READERS_PER_TENANT_MAX: "100000",
      STALL_TIMEOUT_SECONDS: "3600",
    },
    ratelimits: { RATE_LIMITER: { simple: { limit: 1_000_000, period: 60 } } },
  });
  try {
    const { edgeUrl } = stack;
    const port = Number(new URL(edgeUrl).port);
    const pids = workerdPids();
    if (pids.length === 0) throw new Error("no workerd process found below this one");

    // One running document of DOC_MIB, written through the block stream and left open (the job stays running).
    const [docJob] = await createJobs(edgeUrl, 1);
    if (docJob === undefined) throw new Error("no job");
    const docMessage = (await receiveJobMessages(stack, [docJob.id])).get(docJob.id);
    if (docMessage === undefined) throw new Error("no message");
    const synthetic = await leaseJob(stack, docMessage, "bench-streams");
    const blockBytes = Buffer.byteLength(`[0] ${BLOCK_TEXT}`);
    const numBlocks = Math.ceil((DOC_MIB * 2 ** 20) / blockBytes);
    await writeBlocks(openWriter(synthetic), syntheticBlocks(0, numBlocks));
    progress(`document ${docJob.id}: ${numBlocks} blocks, ${DOC_MIB} MiB`);

    const paths: Record<string, string> = {
      control_tail_long_poll: `/v1/generations/${docJob.id}/text?offset=now&live=long-poll`,
      block_events_sse: `/v1/generations/${docJob.id}/stream`,
      text_sse: `/v1/generations/${docJob.id}/text?offset=-1&live=sse`,
      text_catch_up: `/v1/generations/${docJob.id}/text?offset=-1`,
    };
    const paused: Record<string, object> = {};
    // PAUSED_PATHS=block_events_sse,text_sse runs only those rows (the control row always runs).
    const only = (env.PAUSED_PATHS ?? "").split(",").filter((name) => name !== "");
    for (const [name, path] of Object.entries(paths)) {
      if (only.length > 0 && !name.startsWith("control") && !only.includes(name)) continue;
      await sleep(SETTLE_SECONDS * 1_000);
      const beforeMiB = rssMiB(pids);
      const sampler = sampleRss(pids);
      const readers: PausedReader[] = await Promise.all(
        Array.from({ length: PAUSED_READERS }, () => openPausedReader(edgeUrl, path, API_KEY)),
      );
      await sleep(HOLD_SECONDS * 1_000);
      const holdingMiB = rssMiB(pids);
      const kernelMiB = kernelQueuedMiB(port);
      const statuses: Record<string, number> = {};
      for (const { status } of readers) statuses[status] = (statuses[status] ?? 0) + 1;
      for (const reader of readers) reader.socket.destroy();
      await sleep(SETTLE_SECONDS * 1_000);
      const peakMiB = sampler.stop();
      const afterMiB = rssMiB(pids);
      paused[name] = {
        readers: PAUSED_READERS,
        statuses,
        growth_mib: round(holdingMiB - beforeMiB),
        peak_growth_mib: round(peakMiB - beforeMiB),
        per_reader_kib: round(((holdingMiB - beforeMiB) * 1024) / PAUSED_READERS),
        kernel_socket_queues_mib: round(kernelMiB),
        after_close_growth_mib: round(afterMiB - beforeMiB),
      };
      progress(`${name}: ${JSON.stringify(paused[name])}`);
    }

    // LIVE_JOBS jobs, READERS_PER_JOB live readers each, blocks written to all while they follow.
    await sleep(SETTLE_SECONDS * 1_000);
    const liveBeforeMiB = rssMiB(pids);
    const liveJobs = await createJobs(edgeUrl, LIVE_JOBS);
    const messages = await receiveJobMessages(
      stack,
      liveJobs.map((job) => job.id),
    );
    const leased = await Promise.all(
      liveJobs.map((job) => leaseJob(stack, messages.get(job.id) ?? docMessage, `bench-live-${job.id}`)),
    );
    const sampler = sampleRss(pids);
    const startedMs = Date.now();
    const readers = liveJobs.flatMap((job) =>
      Array.from({ length: READERS_PER_JOB }, () => followBlocks(edgeUrl, job.id, API_KEY)),
    );
    // Blocks arrive a few at a time across every job, as a fleet's engine steps would write them.
    const writers = leased.map((job) => openWriter(job));
    const stepBlocks = 4;
    for (let from = 0; from < LIVE_BLOCKS; from += stepBlocks) {
      await Promise.all(writers.map((writer) => writeBlocks(writer, syntheticBlocks(from, stepBlocks))));
    }
    await Promise.all(leased.map((job) => finishJob(job, LIVE_BLOCKS * TOKENS_PER_BLOCK)));
    const results = await Promise.all(readers);
    const elapsedS = (Date.now() - startedMs) / 1_000;
    const livePeakMiB = sampler.stop();
    const complete = results.filter((r) => r.sawDone && r.isInOrder && r.blocks === LIVE_BLOCKS).length;
    const live = {
      jobs: LIVE_JOBS,
      readers: results.length,
      blocks_per_job: LIVE_BLOCKS,
      readers_complete: complete,
      is_every_block_delivered: complete === results.length,
      reconnects: results.reduce((sum, r) => sum + r.reconnects, 0),
      seconds: round(elapsedS),
      peak_growth_mib: round(livePeakMiB - liveBeforeMiB),
      blocks_delivered_per_s: round((results.reduce((sum, r) => sum + r.blocks, 0) / elapsedS) * 1),
    };
    progress(`live: ${JSON.stringify(live)}`);
    await finishJob(synthetic, numBlocks * TOKENS_PER_BLOCK);
    const goalMiB = 64;
    const worstPausedMiB = Math.max(
      ...Object.entries(paused)
        .filter(([name]) => !name.startsWith("control"))
        .map(([, row]) => (row as { growth_mib: number }).growth_mib),
    );
    console.log(
      JSON.stringify({
        bench: "streams",
        document_mib: DOC_MIB,
        workerd_baseline_mib: round(liveBeforeMiB),
        paused,
        paused_worst_growth_mib: worstPausedMiB,
        paused_goal_mib: goalMiB,
        is_paused_within_goal: worstPausedMiB <= goalMiB,
        live,
      }),
    );
  } finally {
    await stack.stop();
  }
}

await main();
