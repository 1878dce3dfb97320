/**
 * The embedded local stack, with no cloud account: fauxqs (an SQS-compatible server, in this process) with the
 * jobs queue and its dead-letter queue, and the edge Worker bundled exactly as `wrangler deploy --dry-run`
 * does, running in Miniflare (workerd) with SQLite Durable Objects persisted to `stateDir`.
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
import { promisify } from "node:util";
import { startFauxqs } from "fauxqs";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { servedModelsVar } from "./served-models.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "..");
const EDGE_BUILD_DIR = join(REPO_ROOT, "node_modules", ".cache", "bd3-local-stack", "edge");
/** The jobs queue and its dead-letter queue, as named in wrangler.toml's local SQS_QUEUE_URL. */
export const JOBS_QUEUE_NAME = "bd3-jobs";
export const DEAD_LETTER_QUEUE_NAME = "bd3-jobs-dlq";

export interface LocalStackOptions {
  /** Receives before SQS moves a job message to the DLQ. */
  maxReceiveCount?: number;
  /** Visibility timeout of the jobs queue in seconds (workers extend it while a job runs). */
  visibilityTimeoutSeconds?: number;
  /** Where the edge keeps its Durable Object state; default: a fresh temporary folder removed by `stop()`. */
  stateDir?: string;
  /** Model packages the edge serves beside those under models/ (their manifests give MODELS, see served-models.ts). */
  modelDirs?: string[];
  /** Vars set over wrangler.toml's (e.g. STREAM_READERS_PER_JOB_MAX for the stream bench). */
  vars?: Record<string, string>;
  /** Rate limits set over wrangler.toml's, by binding name (`{ simple: { limit, period } }`). */
  ratelimits?: Record<string, { simple: { limit: number; period: 10 | 60 } }>;
}

export interface LocalStack {
  sqsEndpoint: string;
  queueUrl: string;
  dlqUrl: string;
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
  const { maxReceiveCount = 3, visibilityTimeoutSeconds = 30 } = options;
  const [sqs, scriptPath] = await Promise.all([startFauxqs({ port: 0, logger: false }), bundleEdge()]);
  const dlq = sqs.createQueue(DEAD_LETTER_QUEUE_NAME);
  const queue = sqs.createQueue(JOBS_QUEUE_NAME, {
    attributes: {
      VisibilityTimeout: String(visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }),
    },
  });

  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "bd3-edge-state-"));
  // wrangler.toml's top level is the local development configuration (dev API key, dev secrets). Its options
  // carry [assets] too (directory, routing, _headers), so the edge serves the playground at / as deployed.
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(REPO_ROOT, "wrangler.toml"));
  // The edge's links come from PUBLIC_BASE_URL, never the request's Host: the port is chosen first so the
  // edge knows its own address.
  const port = await freePort();
  const edge = new Miniflare({
    ...(workerOptions as object),
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
      ...((workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {}),
      SQS_ENDPOINT: sqs.address,
      SQS_QUEUE_URL: queue.queueUrl,
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
    return { sqsEndpoint: sqs.address, queueUrl: queue.queueUrl, dlqUrl: dlq.queueUrl, edgeUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
