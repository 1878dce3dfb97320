/**
 * How long a SIGTERM drain takes (the number infra/k8s sizes terminationGracePeriodSeconds with): a real
 * worker and engine, the queue and the edge in memory (the unit tests' fakes, so no round trip is counted).
 *   npx tsx gpu-worker/bench/drain.ts [--model models/kjv-bd3lm-b16] [--ep cpu] [--batch 8] [--jobs 8]
 *     [--receive-wait 20] [--warm-blocks 3]
 * Fills `--jobs` of the `--batch` slots with long documents, lets each append `--warm-blocks` blocks, then
 * calls `stop(now + SHUTDOWN_GRACE_SECONDS)` as the signal handler does and prints one JSON line: block time
 * at that batch (ms between a job's appends), the drain's duration, blocks appended during it, messages
 * released. With a free slot (`--jobs` < `--batch`) a long poll is in progress, which the drain waits for.
 */
import { parseArgs } from "node:util";
import { engineOptionsFromConfig } from "../src/config/engine-options.ts";
import { loadConfig } from "../src/config/load-config.ts";
import { createEngine } from "../src/engine/index.ts";
import { silentLogger } from "../src/runtime/observability/logger.ts";
import { startWorker } from "../src/runtime/worker.ts";
import { FakeEdge, FakeQueue, jobMessage, queueMessage } from "../test/runtime/fakes.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/kjv-bd3lm-b16" },
    ep: { type: "string", default: "cpu" },
    batch: { type: "string", default: "8" },
    jobs: { type: "string", default: "8" },
    "receive-wait": { type: "string", default: "20" },
    "warm-blocks": { type: "string", default: "3" },
    grace: { type: "string", default: "65" },
  },
});
const jobs = Number(values.jobs);
const warmBlocks = Number(values["warm-blocks"]);
const config = loadConfig({
  envFile: null,
  env: {
    SQS_QUEUE_URL: "http://sqs.local/000000000000/jobs",
    AWS_REGION: "us-east-1",
    EDGE_URL: "http://edge.local",
    MODEL_DIR: values.model,
    MODEL_NAME: "fake-model",
    EXECUTION_PROVIDERS: values.ep,
    ALLOW_CPU_FALLBACK: "true",
    MAX_BATCH_SIZE: values.batch,
    RECEIVE_WAIT_SECONDS: values["receive-wait"],
    SHUTDOWN_GRACE_SECONDS: values.grace,
    METRICS_PORT: "0",
  },
});
const engine = await createEngine(engineOptionsFromConfig(config.engine));
const queue = new FakeQueue();
const edge = new FakeEdge();
const appendsAt = new Map<string, number[]>();
const worker = await startWorker(config, { engine, queue, edge, logger: silentLogger() });
const params = { ...jobMessage().params, max_tokens: 1_000_000 };
queue.push(...Array.from({ length: jobs }, (_, i) => queueMessage(jobMessage({ job_id: `job_${i}`, params }))));

const appends = () => edge.of("append");
const startedAt = performance.now();
const blockTimes: number[] = [];
let seen = 0;
while ([...new Set(appends().map((call) => call.jobId))].length < jobs || appends().length < jobs * warmBlocks) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  const now = performance.now();
  for (const call of appends().slice(seen)) {
    const list = appendsAt.get(call.jobId) ?? [];
    list.push(now);
    appendsAt.set(call.jobId, list);
  }
  seen = appends().length;
  if (now - startedAt > 600_000) throw new Error("jobs did not warm up in 10 minutes");
}
for (const list of appendsAt.values()) for (let i = 1; i < list.length; i++) blockTimes.push(list[i]! - list[i - 1]!);
blockTimes.sort((a, b) => a - b);

const appendedBefore = appends().length;
const stopAt = performance.now();
const isClean = await worker.stop(Date.now() + config.shutdownGraceSeconds * 1_000);
const drainMs = performance.now() - stopAt;
const released = queue.ops("changeVisibility").filter((op) => op.op === "changeVisibility" && op.seconds === 0);
process.stdout.write(
  `${JSON.stringify({
    model: engine.manifest.name,
    execution_provider: engine.executionProvider,
    batch: config.engine.maxBatchSize,
    jobs,
    receive_wait_seconds: config.queue.receiveWaitSeconds,
    block_ms_median: Math.round(blockTimes[Math.floor(blockTimes.length / 2)] ?? Number.NaN),
    block_ms_max: Math.round(blockTimes.at(-1) ?? Number.NaN),
    drain_ms: Math.round(drainMs),
    drain_is_clean: isClean,
    blocks_appended_during_drain: appends().length - appendedBefore,
    messages_released: released.length,
  })}\n`,
);
process.exit(0);
