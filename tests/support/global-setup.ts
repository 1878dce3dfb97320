/**
 * Starts the local stack once for every whole-stack test: fauxqs with the jobs queue and its DLQ (redrive after
 * STACK_MAX_RECEIVE_COUNT receives) and the edge in Miniflare (workerd, SQLite Durable Objects persisted to a
 * fresh temp dir), pointed at that queue. The edge is bundled once, as `wrangler deploy --dry-run` does, and
 * configured from wrangler.toml's top level (local development): unlike `wrangler dev` it does not reload
 * when someone edits edge/ or wrangler.toml during the run. Provides the addresses through `inject`.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { startFauxqs } from "fauxqs";
import { Miniflare } from "miniflare";
import type { TestProject } from "vitest/node";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/** Receives before SQS moves a job message to the DLQ (kept small so the poison test is quick). */
export const STACK_MAX_RECEIVE_COUNT = 2;
const REPO_ROOT = resolve(import.meta.dirname, "../..");
const EDGE_BUILD_DIR = join(REPO_ROOT, "node_modules", ".cache", "bd3-tests", "edge");

declare module "vitest" {
  export interface ProvidedContext {
    sqsEndpoint: string;
    queueUrl: string;
    dlqUrl: string;
    edgeUrl: string;
  }
}

/** Bundles the edge exactly as a deploy would (esbuild through wrangler), into EDGE_BUILD_DIR. */
async function bundleEdge(): Promise<string> {
  mkdirSync(EDGE_BUILD_DIR, { recursive: true });
  await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", EDGE_BUILD_DIR],
    { cwd: REPO_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  return join(EDGE_BUILD_DIR, "worker.js");
}

export default async function setup(project: TestProject) {
  const [sqs, scriptPath] = await Promise.all([startFauxqs({ port: 0, logger: false }), bundleEdge()]);
  const dlq = sqs.createQueue("bd3-jobs-dlq");
  const queue = sqs.createQueue("bd3-jobs", {
    attributes: {
      VisibilityTimeout: "30",
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: STACK_MAX_RECEIVE_COUNT }),
    },
  });

  const stateDir = mkdtempSync(join(tmpdir(), "bd3-edge-state-"));
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(REPO_ROOT, "wrangler.toml"));
  const edge = new Miniflare({
    ...(workerOptions as object),
    name: "bd3-serve-edge",
    modules: true,
    rootPath: REPO_ROOT,
    scriptPath: relative(REPO_ROOT, scriptPath),
    host: "127.0.0.1",
    port: 0,
    cf: false,
    durableObjectsPersist: stateDir,
    bindings: {
      ...((workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {}),
      SQS_ENDPOINT: sqs.address,
      SQS_QUEUE_URL: queue.queueUrl,
    },
  } as ConstructorParameters<typeof Miniflare>[0]);
  const teardown = async () => {
    await edge.dispose().catch(() => {});
    await sqs.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
  let edgeUrl: string;
  try {
    edgeUrl = (await edge.ready).origin;
  } catch (error) {
    await teardown();
    throw error;
  }

  project.provide("sqsEndpoint", sqs.address);
  project.provide("queueUrl", queue.queueUrl);
  project.provide("dlqUrl", dlq.queueUrl);
  project.provide("edgeUrl", edgeUrl);
  return teardown;
}
