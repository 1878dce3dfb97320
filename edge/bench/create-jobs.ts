/**
 * `npm run bench:edge`: create-job throughput and latency of the edge, next to a bare Hono route measured
 * in the same run on the same runtime.
 *
 * It bundles the edge as `wrangler deploy --dry-run` does, runs it in Miniflare (workerd, SQLite Durable
 * Objects) with a local SQS (fauxqs) and a rate limit too high to matter, runs a bare Hono worker next to
 * it, and drives both with the same closed-loop load. fauxqs runs in its own process so that it does not
 * share the load generator's event loop. Settings: BENCH_SECONDS (default 10),
 * BENCH_CONCURRENCY (default 16).
 *
 * Where a create's time goes is read from routes that add one cost at a time, all in the same run:
 * `GET /v1/models` (the middleware chain: request id, CORS, config, key lookup, rate limit, scopes; no object),
 * `GET /v1/usage` (plus one call to the tenant's index object), and `POST /v1/generations` (the quota
 * admission in the tenant's object, a new job object with its own SQLite database, and, after the answer, the
 * SQS send through the AWS SDK and the index sync). The Durable Object bindings come from wrangler.toml.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import type { Readable } from "node:stream";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { type LoadResult, runLoad } from "./load.ts";
import { startLocalSqs } from "./local-sqs.ts";
import { childPidsNamed, cpuMsOf } from "./process-cpu.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const OUT_DIR = join(ROOT, "edge", "bench", "dist");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WARMUP_MS = 1_500;
const COMPATIBILITY_DATE = "2026-04-20";
const BENCH_KEY = "bd3_bench_0000000000000000000000000000000";

async function bundle(): Promise<{ edge: string; bare: string; floor: string }> {
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", OUT_DIR],
    { cwd: ROOT, stdio: "ignore", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  const bundleOne = async (name: string) => {
    const outfile = join(OUT_DIR, `${name}.js`);
    await build({
      entryPoints: [join(ROOT, "edge", "bench", `${name}.ts`)],
      bundle: true,
      format: "esm",
      platform: "neutral",
      external: ["cloudflare:workers"],
      outfile,
      logLevel: "silent",
    });
    return relative(ROOT, outfile);
  };
  return {
    edge: relative(ROOT, join(OUT_DIR, "worker.js")),
    bare: await bundleOne("bare-worker"),
    floor: await bundleOne("floor-worker"),
  };
}

/** The Durable Object bindings of wrangler.toml's top level, as Miniflare takes them. */
function durableObjectsOfWranglerToml(): Record<string, { className: string; useSQLite: boolean }> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
  const bindings =
    (workerOptions as { durableObjects?: Record<string, { className: string } | string> }).durableObjects ?? {};
  return Object.fromEntries(
    Object.entries(bindings)
      .filter(([name]) => name !== "DEV_STREAMS")
      .map(([name, value]) => [
        name,
        { className: typeof value === "string" ? value : value.className, useSQLite: true },
      ]),
  );
}

async function countMessages(endpoint: string, queueUrl: string): Promise<number> {
  const client = new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? Number.NaN);
}

/** How long a drain of the job objects' background sends may take before the bench reports what it has. */
const DRAIN_TIMEOUT_MS = 60_000;

interface Measured {
  load: LoadResult;
  /** CPU time of every workerd process of this bench during the load, per request. */
  workerdCpuMsPerRequest: number;
  /** The same for the local SQS server (fauxqs), which only creates touch. */
  sqsCpuMsPerRequest: number;
}

function report(name: string, measured: Measured): string {
  const result = measured.load;
  const cells = [
    name.padEnd(22),
    result.requestsPerSecond.toFixed(0).padStart(8),
    result.p50Ms.toFixed(2).padStart(9),
    result.p99Ms.toFixed(2).padStart(9),
    String(result.requests).padStart(9),
    String(result.errors).padStart(7),
    measured.workerdCpuMsPerRequest.toFixed(3).padStart(12),
    measured.sqsCpuMsPerRequest.toFixed(3).padStart(10),
  ];
  const statuses = Object.entries(result.errorsByStatus).map(([status, count]) => `${status} x${count}`);
  return cells.join(" ") + (statuses.length > 0 ? `  (${statuses.join(", ")})` : "");
}

async function main() {
  process.chdir(ROOT);
  mkdirSync(OUT_DIR, { recursive: true });
  const sqs = await startLocalSqs(OUT_DIR, "bd3-jobs-bench");
  const runtimeLog = createWriteStream(join(OUT_DIR, "workerd.log"));
  const scripts = await bundle();
  // Each instance gets a direct socket to its worker: Miniflare's own entry worker in front of it starved a few
  // connections for seconds under concurrent creates (they never reached our fetch handler; measured: 10-13 of
  // 16 clients stalled, then reset), which is a property of the local proxy, not of the edge. The workerd
  // output (one JSON log line per request) goes to dist/workerd.log, so the edge still pays for its logging.
  const common = {
    modules: true,
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    logRequests: false,
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      stdout.pipe(runtimeLog, { end: false });
      stderr.pipe(runtimeLog, { end: false });
    },
  };
  const edge = new Miniflare({
    ...common,
    scriptPath: scripts.edge,
    host: "127.0.0.1",
    port: 0,
    durableObjects: durableObjectsOfWranglerToml(),
    ratelimits: { RATE_LIMITER: { simple: { limit: 1_000_000_000, period: 60 } } },
    bindings: {
      ENVIRONMENT: "development",
      API_KEYS: JSON.stringify([
        { id: "key_bench", tenant_id: "tenant_bench", sha256: createHash("sha256").update(BENCH_KEY).digest("hex") },
      ]),
      WORKER_CAPABILITY_SECRET: "dev-bench-capability-secret",
      WEBHOOK_SIGNING_SECRET: "dev-bench-webhook-secret",
      SQS_ENDPOINT: sqs.endpoint,
      SQS_QUEUE_URL: sqs.queueUrl,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      // The bench creates thousands of jobs that no worker takes: the queued-jobs quota must not refuse them.
      QUOTAS: JSON.stringify({ default: { max_queued_jobs: 1_000_000 } }),
    },
  });
  const bare = new Miniflare({ ...common, scriptPath: scripts.bare, host: "127.0.0.1", port: 0 });
  const floor = new Miniflare({
    ...common,
    scriptPath: scripts.floor,
    host: "127.0.0.1",
    port: 0,
    durableObjects: { FLOOR: { className: "FloorObject", useSQLite: true } },
  });
  try {
    await Promise.all([edge.ready, bare.ready, floor.ready]);
    const [edgeUrl, bareUrl, floorUrl] = await Promise.all([
      edge.unsafeGetDirectURL(),
      bare.unsafeGetDirectURL(),
      floor.unsafeGetDirectURL(),
    ]);
    const workerdPids = childPidsNamed("workerd");
    const measure = async (run: () => Promise<LoadResult>, drain?: (load: LoadResult) => Promise<void>) => {
      const workerdBefore = cpuMsOf(workerdPids);
      const sqsBefore = cpuMsOf(sqs.pids);
      const load = await run();
      await drain?.(load);
      const perRequest = (ms: number) => ms / Math.max(1, load.requests);
      const measured: Measured = {
        load,
        workerdCpuMsPerRequest: perRequest(cpuMsOf(workerdPids) - workerdBefore),
        sqsCpuMsPerRequest: perRequest(cpuMsOf(sqs.pids) - sqsBefore),
      };
      return measured;
    };
    const body = JSON.stringify({ prompt: "In the beginning God created the heaven and the earth.", max_tokens: 256 });
    const load = (url: URL, headers: Record<string, string>, durationMs: number) =>
      runLoad({
        url: new URL("/v1/generations", url).toString(),
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        concurrency: CONCURRENCY,
        durationMs,
        expectedStatus: 202,
      });
    const auth = { authorization: `Bearer ${BENCH_KEY}` };
    const read = (path: string, durationMs: number) =>
      runLoad({
        url: new URL(path, edgeUrl).toString(),
        method: "GET",
        headers: auth,
        concurrency: CONCURRENCY,
        durationMs,
        expectedStatus: 200,
      });
    await load(bareUrl, {}, WARMUP_MS);
    await load(floorUrl, {}, WARMUP_MS);
    const warmUpCreates = (await load(edgeUrl, auth, WARMUP_MS)).requests;
    await read("/v1/usage", WARMUP_MS);
    const bareResult = await measure(() => load(bareUrl, {}, SECONDS * 1_000));
    const floorResult = await measure(() => load(floorUrl, {}, SECONDS * 1_000));
    const modelsResult = await measure(() => read("/v1/models", SECONDS * 1_000));
    const usageResult = await measure(() => read("/v1/usage", SECONDS * 1_000));
    // A create answers before its job object sends to SQS: the measurement lasts until every job's message is
    // in the queue, so the CPU per create includes the sends that the load left running in the background.
    let drainMs = 0;
    let messages = 0;
    const drainSends = async (created: LoadResult) => {
      const expected = warmUpCreates + created.requests - created.errors;
      const startedAt = performance.now();
      for (;;) {
        messages = await countMessages(sqs.endpoint, sqs.queueUrl);
        if (messages >= expected || performance.now() - startedAt > DRAIN_TIMEOUT_MS) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      drainMs = performance.now() - startedAt;
    };
    const edgeResult = await measure(() => load(edgeUrl, auth, SECONDS * 1_000), drainSends);
    console.log(
      `\ncreate-job benchmark: ${CONCURRENCY} concurrent clients, ${SECONDS} s each, Miniflare (workerd) on this machine\n`,
    );
    console.log(
      `${"target".padEnd(22)} ${"req/s".padStart(8)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)} ${"requests".padStart(9)} ${"errors".padStart(7)} ${"workerd CPU".padStart(12)} ${"SQS CPU".padStart(10)}`,
    );
    console.log(report("bare Hono route", bareResult));
    console.log(report("floor: new object", floorResult));
    console.log(report("GET /v1/models", modelsResult));
    console.log(report("GET /v1/usage", usageResult));
    console.log(report("POST /v1/generations", edgeResult));
    console.log("(CPU columns: milliseconds of process CPU time per request, user + system, from /proc)");
    const ratio = (measured: Measured) =>
      (measured.load.requestsPerSecond / bareResult.load.requestsPerSecond).toFixed(3);
    console.log(
      `\nthroughput / bare route: floor ${ratio(floorResult)}, middleware ${ratio(modelsResult)}, + tenant object ${ratio(usageResult)}, create ${ratio(edgeResult)}; create / floor ${(edgeResult.load.requestsPerSecond / floorResult.load.requestsPerSecond).toFixed(3)}`,
    );
    const cpuRatio = edgeResult.workerdCpuMsPerRequest / bareResult.workerdCpuMsPerRequest;
    console.log(
      `\nedge create = ${(bareResult.load.requestsPerSecond / edgeResult.load.requestsPerSecond).toFixed(1)}x the bare route's time per request and ${cpuRatio.toFixed(1)}x its workerd CPU; ${messages} job messages in the local queue (warm-up included), the last ${(drainMs / 1_000).toFixed(1)} s after the last answer (included in the create's CPU).`,
    );
    console.log(
      "The floor is the least a create can cost with one Durable Object per job (a new SQLite database, one table, one row, one alarm): no create of this design gets closer to the bare route than it. A create adds auth, the quota check in the tenant's object, the job's tables and schedule, then after answering the tenant index, the queue ledger and the SQS send. Every object shares this one local workerd thread, whereas in production each job object runs where Cloudflare places it.",
    );
  } finally {
    await Promise.all([edge.dispose(), bare.dispose(), floor.dispose()]);
    sqs.stop();
  }
}

await main();
