/**
 * The embedded local stack, with no cloud account: fauxqs (an SQS-compatible server, in this process) with the
 * jobs queues (one per served model and priority, each model's redriving to its own dead-letter queue), and
 * the edge Worker bundled exactly as `wrangler deploy --dry-run` does, running in Miniflare (workerd) with
 * SQLite Durable Objects persisted to `stateDir`. The default model's normal queue is `bd3-jobs` (`queueUrl`,
 * what a worker without SQS_QUEUE_URLS polls), its DLQ `bd3-jobs-dlq` (`dlqUrl`).
 *
 * Lifecycle: `startLocalStack()` returns the addresses once both answer; `stop()` disposes the edge, stops the
 * queue server and (when it created it) removes the state folder. Used by `npm start` and by the whole-stack
 * tests (`tests/support/global-setup.ts`), so both run the stack the same way.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { JOB_MAX_RECEIVE_COUNT } from "@bd3-serve/shared";
import { startFauxqs } from "fauxqs";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { servedModels, servedModelsVar } from "./served-models.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "..");
const EDGE_BUILD_DIR = join(REPO_ROOT, "node_modules", ".cache", "bd3-local-stack", "edge");
/** The jobs queue and its dead-letter queue, as named in wrangler.toml's local SQS_QUEUE_URL. */
export const JOBS_QUEUE_NAME = "bd3-jobs";
export const DEAD_LETTER_QUEUE_NAME = "bd3-jobs-dlq";
/** The priorities, lowest first (shared PRIORITIES), as the keys of a model's queue map. */
const PRIORITY_KEYS = ["0", "1", "2"] as const;
export type PriorityKey = (typeof PRIORITY_KEYS)[number];

/**
 * A model's local queue names, as wrangler.toml's dev SQS_QUEUES names them: the default model's normal queue
 * is `bd3-jobs` (its others `bd3-jobs-p0`, `bd3-jobs-p2`, DLQ `bd3-jobs-dlq`); another model's are
 * `bd3-jobs-<model>-p<priority>` with the DLQ `bd3-jobs-<model>-dlq`.
 */
export function localQueueNames(
  model: string,
  isDefault: boolean,
): { byPriority: Record<PriorityKey, string>; dlq: string } {
  const base = isDefault ? JOBS_QUEUE_NAME : `${JOBS_QUEUE_NAME}-${model}`;
  const name = (priority: PriorityKey) => (isDefault && priority === "1" ? JOBS_QUEUE_NAME : `${base}-p${priority}`);
  return { byPriority: { 0: name("0"), 1: name("1"), 2: name("2") }, dlq: `${base}-dlq` };
}

/** One model's queues: by priority ("0" low, "1" normal, "2" high), and the DLQ they share. */
export interface LocalModelQueues {
  byPriority: Record<PriorityKey, string>;
  dlqUrl: string;
}

export interface LocalStackOptions {
  /**
   * Receives before SQS moves a job message to the DLQ; default production's (JOB_MAX_RECEIVE_COUNT, as
   * `npm start` runs it). A test that drives a job into the DLQ sets a smaller one to stay quick.
   */
  maxReceiveCount?: number;
  /** Visibility timeout of the jobs queue in seconds (workers extend it while a job runs). */
  visibilityTimeoutSeconds?: number;
  /** Where the edge keeps its Durable Object state; default: a fresh temporary folder removed by `stop()`. */
  stateDir?: string;
  /** Model packages the edge serves beside those under models/ (their manifests give MODELS, see served-models.ts). */
  modelDirs?: string[];
  /** DEFAULT_MODEL of the edge (default: wrangler.toml's); its normal queue is `queueUrl`. */
  defaultModel?: string;
  /** Vars set over wrangler.toml's (e.g. STREAM_READERS_PER_JOB_MAX for the stream bench). */
  vars?: Record<string, string>;
  /** Rate limits set over wrangler.toml's, by binding name (`{ simple: { limit, period } }`). */
  ratelimits?: Record<string, { simple: { limit: number; period: 10 | 60 } }>;
}

export interface LocalStack {
  sqsEndpoint: string;
  /** The default model's normal queue and its DLQ. */
  queueUrl: string;
  dlqUrl: string;
  /** Every served model's queues (the edge's SQS_QUEUES), by model name. */
  modelQueues: Record<string, LocalModelQueues>;
  defaultModel: string;
  edgeUrl: string;
  stop(): Promise<void>;
}

/** Bundles the edge as a deploy would (esbuild through wrangler) and returns the bundle's path. */
async function bundleEdge(): Promise<string> {
  mkdirSync(EDGE_BUILD_DIR, { recursive: true });
  await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", EDGE_BUILD_DIR],
    { cwd: REPO_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  return join(EDGE_BUILD_DIR, "worker.js");
}

/** The edge's one-line-per-request logs (middleware/request-log.ts); shown with BD3_LOG_REQUESTS=1. */
const REQUEST_LOG_LINE = '{"event":"request"';

/**
 * workerd's output, passed through line by line, less the per-request log lines unless BD3_LOG_REQUESTS=1: the
 * whole-stack tests and `npm start` make thousands of requests, and their lines would bury everything else.
 */
function forwardRuntimeOutput(stdout: Readable, stderr: Readable): void {
  const showRequests = process.env.BD3_LOG_REQUESTS === "1";
  for (const [stream, out] of [
    [stdout, process.stdout],
    [stderr, process.stderr],
  ] as const) {
    createInterface({ input: stream }).on("line", (line) => {
      if (showRequests || !line.includes(REQUEST_LOG_LINE)) out.write(`${line}\n`);
    });
  }
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const { maxReceiveCount = JOB_MAX_RECEIVE_COUNT, visibilityTimeoutSeconds = 30 } = options;
  const [sqs, scriptPath] = await Promise.all([startFauxqs({ port: 0, logger: false }), bundleEdge()]);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(REPO_ROOT, "wrangler.toml"));
  const wranglerBindings = (workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {};
  const defaultModel =
    options.defaultModel ?? options.vars?.DEFAULT_MODEL ?? String(wranglerBindings.DEFAULT_MODEL ?? "kjv-bd3lm-b16");
  const models = servedModels(REPO_ROOT, options.modelDirs).map((model) => model.name);
  if (!models.includes(defaultModel)) models.unshift(defaultModel);
  const modelQueues: Record<string, LocalModelQueues> = {};
  for (const model of models) {
    const names = localQueueNames(model, model === defaultModel);
    const dlq = sqs.createQueue(names.dlq);
    const attributes = {
      VisibilityTimeout: String(visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }),
    };
    const url = (priority: PriorityKey) => sqs.createQueue(names.byPriority[priority], { attributes }).queueUrl;
    modelQueues[model] = { byPriority: { 0: url("0"), 1: url("1"), 2: url("2") }, dlqUrl: dlq.queueUrl };
  }
  const defaultQueues = modelQueues[defaultModel]!;

  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "bd3-edge-state-"));
  // wrangler.toml's top level is the local development configuration (dev API key, dev secrets). Its options
  // carry [assets] too (directory, routing, _headers), so the edge serves the playground at / as deployed.
  // The edge's links come from PUBLIC_BASE_URL, never the request's Host: the port is chosen first so the
  // edge knows its own address.
  const port = await freePort();
  const edge = new Miniflare({
    ...(workerOptions as object),
    handleRuntimeStdio: forwardRuntimeOutput,
    name: "bd3-serve-edge",
    modules: true,
    rootPath: REPO_ROOT,
    // Miniflare refuses a script path outside its root ("can't use '..'"), hence relative to the repo.
    scriptPath: relative(REPO_ROOT, scriptPath),
    host: "127.0.0.1",
    port,
    cf: false,
    durableObjectsPersist: stateDir,
    bindings: {
      ...wranglerBindings,
      DEFAULT_MODEL: defaultModel,
      SQS_ENDPOINT: sqs.address,
      SQS_QUEUE_URL: defaultQueues.byPriority[1],
      SQS_QUEUES: JSON.stringify(
        Object.fromEntries(Object.entries(modelQueues).map(([model, queues]) => [model, queues.byPriority])),
      ),
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      MODELS: servedModelsVar(REPO_ROOT, options.modelDirs),
      ...options.vars,
    },
    ...(options.ratelimits === undefined
      ? {}
      : { ratelimits: { ...(workerOptions as { ratelimits?: object }).ratelimits, ...options.ratelimits } }),
  } as ConstructorParameters<typeof Miniflare>[0]);
  const stop = async () => {
    await edge.dispose().catch(() => {});
    await sqs.stop();
    if (ownsStateDir) rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const edgeUrl = (await edge.ready).origin;
    return {
      sqsEndpoint: sqs.address,
      queueUrl: defaultQueues.byPriority[1],
      dlqUrl: defaultQueues.dlqUrl,
      modelQueues,
      defaultModel,
      edgeUrl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
