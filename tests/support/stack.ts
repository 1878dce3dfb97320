/**
 * Helpers for whole-stack tests: the public API of the edge (as a client would call it), the SQS queue
 * depth, and workers, either in this process (`startWorker` with the real engine) or as a child process
 * (`npm run worker`'s entry, so signals and crashes are real).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GetQueueAttributesCommand, PurgeQueueCommand } from "@aws-sdk/client-sqs";
import type { Block, BlockPage, JobView, SamplingParams } from "@bd3-serve/shared";
import { inject } from "vitest";
import { engineOptionsFromConfig } from "../../gpu-worker/src/config/engine-options.ts";
import { loadConfig } from "../../gpu-worker/src/config/load-config.ts";
import { createEngine } from "../../gpu-worker/src/engine/index.ts";
import { createLogger, silentLogger } from "../../gpu-worker/src/runtime/observability/logger.ts";
import { createSqsClient } from "../../gpu-worker/src/runtime/queue/job-queue.ts";
import { startWorker, type Worker } from "../../gpu-worker/src/runtime/worker.ts";
import { MODEL_DIR, MODEL_NAME, REPO_ROOT } from "./test-model.ts";

export { MODEL_DIR, MODEL_NAME, REPO_ROOT } from "./test-model.ts";
/** The dev API key of wrangler.toml (its SHA-256 is listed in API_KEYS there). */
export const API_KEY = "bd3_dev_0123456789abcdef0123456789abcdef";

export function stackAddresses() {
  return {
    edgeUrl: inject("edgeUrl"),
    sqsEndpoint: inject("sqsEndpoint"),
    queueUrl: inject("queueUrl"),
    dlqUrl: inject("dlqUrl"),
    modelQueues: inject("modelQueues"),
  };
}

/** Worker settings for the local stack (short visibility and heartbeat); SQS_QUEUE_URL unless given SQS_QUEUE_URLS. */
export function workerEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const { edgeUrl, sqsEndpoint, queueUrl } = stackAddresses();
  return {
    ...(overrides.SQS_QUEUE_URLS === undefined ? { SQS_QUEUE_URL: queueUrl } : {}),
    SQS_ENDPOINT: sqsEndpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EDGE_URL: edgeUrl,
    EDGE_MAX_ATTEMPTS: "3",
    MODEL_DIR,
    MAX_BATCH_SIZE: "4",
    INTRA_OP_NUM_THREADS: "1",
    VISIBILITY_TIMEOUT_SECONDS: "4",
    HEARTBEAT_INTERVAL_SECONDS: "1",
    RECEIVE_WAIT_SECONDS: "1",
    METRICS_PORT: "0",
    METRICS_HOST: "127.0.0.1",
    SHUTDOWN_GRACE_SECONDS: "15",
    LOG_LEVEL: process.env.TEST_WORKER_LOG_LEVEL ?? "error",
    ...overrides,
  };
}

// --- the edge's public API -------------------------------------------------------------------------------

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const reply = await fetch(`${stackAddresses().edgeUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", ...init.headers },
  });
  return { status: reply.status, body: (await reply.json()) as T };
}

export type JobParams = Partial<Omit<SamplingParams, "seed">> & { seed?: number };

/** What a create may set beside the sampling params: the model (default: the test model) and the priority. */
export type JobOptions = JobParams & { model?: string; priority?: number };

export async function createJob(prompt: string, params: JobOptions = {}): Promise<JobView> {
  const { status, body } = await api<JobView>("/v1/generations", {
    method: "POST",
    body: JSON.stringify({ model: MODEL_NAME, prompt, ...params }),
  });
  if (status !== 202 && status !== 200) throw new Error(`create failed (${status}): ${JSON.stringify(body)}`);
  return body;
}

export async function getJob(id: string): Promise<JobView> {
  const { status, body } = await api<JobView>(`/v1/generations/${id}`);
  if (status !== 200) throw new Error(`get failed (${status}): ${JSON.stringify(body)}`);
  return body;
}

export async function cancelJob(id: string): Promise<{ status: number; body: JobView }> {
  return api<JobView>(`/v1/generations/${id}/cancel`, { method: "POST", body: "{}" });
}

/** Every committed block, in order (all pages). */
export async function getBlocks(id: string): Promise<Block[]> {
  const blocks: Block[] = [];
  let after = -1;
  for (;;) {
    const { body } = await api<BlockPage>(`/v1/generations/${id}/blocks?after=${after}&limit=1000`);
    blocks.push(...body.data);
    if (!body.has_more || body.next_after === null) return blocks;
    after = body.next_after;
  }
}

/** Polls `probe` until it returns a value (not undefined); fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, intervalMs));
  }
}

export function waitForJob(id: string, predicate: (job: JobView) => boolean, what: string, timeoutMs = 60_000) {
  return waitFor(
    what,
    async () => {
      const job = await getJob(id);
      return predicate(job) ? job : undefined;
    },
    { timeoutMs },
  );
}

// --- SQS ---------------------------------------------------------------------------------------------------

const sqsClients = new Map<string, ReturnType<typeof createSqsClient>>();

function sqsClient() {
  const endpoint = stackAddresses().sqsEndpoint;
  let client = sqsClients.get(endpoint);
  if (client === undefined) {
    client = createSqsClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "t", secretAccessKey: "t" },
    });
    sqsClients.set(endpoint, client);
  }
  return client;
}

/** Empties every jobs queue (each model's and priority's) and DLQ: a test starts from nothing whatever came before. */
export async function purgeQueues(): Promise<void> {
  const { queueUrl, dlqUrl, modelQueues } = stackAddresses();
  const urls = new Set([queueUrl, dlqUrl]);
  for (const queues of Object.values(modelQueues)) {
    for (const url of [...Object.values(queues.byPriority), queues.dlqUrl]) urls.add(url);
  }
  for (const url of urls) await sqsClient().send(new PurgeQueueCommand({ QueueUrl: url }));
}

/** Visible and in-flight messages of a queue. */
export async function queueDepth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const reply = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(reply.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(reply.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/** Waits until neither the jobs queue nor the DLQ holds a message (deletes follow finish by a moment). */
export async function waitForEmptyQueues(): Promise<void> {
  const { queueUrl, dlqUrl } = stackAddresses();
  await waitFor("the queues to be empty", async () => {
    const [jobs, dead] = await Promise.all([queueDepth(queueUrl), queueDepth(dlqUrl)]);
    return jobs.visible + jobs.inFlight + dead.visible + dead.inFlight === 0 ? true : undefined;
  });
}

// --- workers -----------------------------------------------------------------------------------------------

export interface InProcessWorker {
  worker: Worker;
  stop(): Promise<boolean>;
}

export async function startInProcessWorker(overrides: Record<string, string> = {}): Promise<InProcessWorker> {
  const config = loadConfig({ env: workerEnv(overrides), envFile: null });
  const logger =
    config.logLevel === "silent" ? silentLogger() : createLogger({ level: config.logLevel, workerId: config.workerId });
  const engine = await createEngine(engineOptionsFromConfig(config.engine));
  const worker = await startWorker(config, { engine, logger });
  return { worker, stop: () => worker.stop(Date.now() + 10_000) };
}

export interface ChildWorker {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Runs the worker entry (`npm run worker` = tsx gpu-worker/src/runtime/main.ts) as a child process. */
export function spawnWorker(overrides: Record<string, string> = {}): ChildWorker {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "gpu-worker/src/runtime/main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...workerEnv({ LOG_LEVEL: "info", ...overrides }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-50_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | string>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown"));
  });
  return { child, output: () => output, exited };
}

/** Lines of a child worker's JSON log with this `msg`. */
export function logLines(output: string, msg: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

/** The text an uninterrupted run of the engine writes for this job (same prompt, params and seed). */
export async function uninterruptedText(prompt: string, params: JobView["params"]): Promise<string> {
  const engine = await createEngine({ modelDir: MODEL_DIR, maxBatchSize: 1, intraOpNumThreads: 1 });
  try {
    engine.addRequest({ requestId: "reference", prompt, params: { ...params, seed: params.seed } });
    let text = "";
    while (engine.hasWork()) for (const block of await engine.step()) text += block.text;
    return text;
  } finally {
    await engine.close();
  }
}

/** A "long" job runs at least this many blocks (paced by the slow edge, that is seconds). */
export const LONG_JOB_MIN_BLOCKS = 20;
/** Seeds tried together when looking for a long run: one, as a trained model rarely ends a document early. */
const SEED_CANDIDATES = 1;

function manifestBlockSize(): number {
  return (JSON.parse(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8")) as { block_size: number }).block_size;
}

/** max_tokens of a long job: room for twice LONG_JOB_MIN_BLOCKS blocks. */
export function longJobTokens(): number {
  return 2 * LONG_JOB_MIN_BLOCKS * manifestBlockSize();
}

/**
 * A seed whose run of `prompt` goes past LONG_JOB_MIN_BLOCKS blocks (a model may end a document early: the
 * tiny random one samples EOS within a few dozen blocks). Found by running the engine on candidate seeds, a
 * batch at a time, only as far as needed; the engine is deterministic in (prompt, params, seed).
 */
export async function findLongSeed(prompt: string, firstSeed = 1): Promise<number> {
  const engine = await createEngine({ modelDir: MODEL_DIR, maxBatchSize: SEED_CANDIDATES, intraOpNumThreads: 1 });
  const params = {
    max_tokens: longJobTokens(),
    temperature: 1,
    top_p: 0.9,
    strategy: "first_hitting" as const,
    confidence_threshold: 0.95,
    stop: [],
  };
  try {
    for (let base = firstSeed; base < firstSeed + 256; base += SEED_CANDIDATES) {
      for (let seed = base; seed < base + SEED_CANDIDATES; seed++)
        engine.addRequest({ requestId: String(seed), prompt, params: { ...params, seed } });
      while (engine.hasWork()) {
        for (const block of await engine.step()) {
          if (!block.isLast && block.index + 1 >= LONG_JOB_MIN_BLOCKS) return Number(block.requestId);
        }
      }
    }
    throw new Error(`no seed in 256 runs goes past ${LONG_JOB_MIN_BLOCKS} blocks`);
  } finally {
    await engine.close();
  }
}

/** Creates a job that surely runs past LONG_JOB_MIN_BLOCKS blocks. */
export async function createLongJob(prompt: string, firstSeed = 1): Promise<JobView> {
  return createJob(prompt, { max_tokens: longJobTokens(), seed: await findLongSeed(prompt, firstSeed) });
}

/** Counter values of a worker's metric by label value (e.g. blocks appended by result). */
export async function counterValues(worker: Worker, name: "blocksAppended" | "jobs"): Promise<Record<string, number>> {
  const metric = await worker.metrics[name].get();
  return Object.fromEntries(metric.values.map((value) => [String(Object.values(value.labels)[0]), value.value]));
}
