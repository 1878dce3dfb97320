/**
 * `npm start`: one long document end to end on the embedded local stack, no cloud account needed.
 * Starts fauxqs + the edge (Miniflare) + one worker process (`npm run worker`'s entry, the demo model on the
 * CPU execution provider), creates a job with the local dev API key, streams its blocks (SSE) to stdout as
 * they are committed, prints a summary on stderr, then shuts everything down (SIGTERM drain for the worker).
 *
 * Options: --prompt <text> --max-tokens <n> --seed <n> --strategy first_hitting|ddpm|confidence
 *          --steps <n> --model <package dir>
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type Block,
  type CreateGenerationRequestInput,
  CreateGenerationRequestSchema,
  type JobView,
} from "@bd3-serve/shared";
import { REPO_ROOT, startLocalStack } from "./local-stack.ts";
import { type SseEvent, sseEvents } from "./sse-events.ts";

/** The local development key of wrangler.toml (only its SHA-256 is configured there). */
const DEV_API_KEY = "bd3_dev_0123456789abcdef0123456789abcdef";
const DEFAULT_MODEL_DIRS = ["models/kjv-bd3lm-b16", "models/tiny-random-b4"];
const DEFAULT_PROMPT = "In the beginning God created the heaven and the earth.";
const WORKER_STOP_TIMEOUT_MS = 30_000;

function log(message: string): void {
  process.stderr.write(`[start] ${message}\n`);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      prompt: { type: "string", default: DEFAULT_PROMPT },
      "max-tokens": { type: "string", default: "512" },
      seed: { type: "string", default: "1" },
      strategy: { type: "string" },
      steps: { type: "string" },
      model: { type: "string" },
    },
  });
  const modelDir = values.model ?? DEFAULT_MODEL_DIRS.find((dir) => existsSync(join(REPO_ROOT, dir, "manifest.json")));
  if (modelDir === undefined) throw new Error(`no model package found (looked in ${DEFAULT_MODEL_DIRS.join(", ")})`);
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, modelDir, "manifest.json"), "utf8")) as { name: string };
  const body: CreateGenerationRequestInput = {
    prompt: values.prompt,
    model: manifest.name,
    max_tokens: Number(values["max-tokens"]),
    seed: Number(values.seed),
    ...(values.strategy !== undefined ? { strategy: values.strategy as "first_hitting" } : {}),
    ...(values.steps !== undefined ? { steps_per_block: Number(values.steps) } : {}),
  };
  const parsed = CreateGenerationRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`bad option ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return { modelDir: join(REPO_ROOT, modelDir), body };
}

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      "--disable-warning=NodeVersionSupportWarning",
      "--import",
      "tsx",
      join(REPO_ROOT, "gpu-worker/src/runtime/main.ts"),
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  return child;
}

async function stopWorkerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), WORKER_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Reads an SSE response and calls `onEvent` for each event until it returns false. */
async function readSse(response: Response, onEvent: (event: SseEvent) => boolean): Promise<void> {
  if (response.body === null) throw new Error("stream answered without a body");
  for await (const event of sseEvents(response.body)) if (!onEvent(event)) return;
}

async function main(): Promise<void> {
  const { modelDir, body } = parseOptions();
  log(`starting the local stack (fauxqs + edge in Miniflare) and a worker with ${modelDir}`);
  const stack = await startLocalStack({ modelDirs: [modelDir] });
  log(`playground: ${stack.edgeUrl}/ (API key ${DEV_API_KEY}; up until this job ends)`);
  const worker = startWorkerProcess({
    SQS_QUEUE_URL: stack.queueUrl,
    SQS_DLQ_URL: stack.dlqUrl,
    SQS_ENDPOINT: stack.sqsEndpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    EDGE_URL: stack.edgeUrl,
    MODEL_DIR: modelDir,
    METRICS_PORT: "0",
    METRICS_HOST: "127.0.0.1",
    RECEIVE_WAIT_SECONDS: "2",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    // The SDK's notice that releases after January 2027 need Node 22 is for operators, not this demo's output.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const shutdown = async () => {
    await stopWorkerProcess(worker);
    await stack.stop();
  };
  process.once("SIGINT", () => {
    log("interrupted: stopping");
    void shutdown().then(() => process.exit(130));
  });

  try {
    const headers = { authorization: `Bearer ${DEV_API_KEY}`, "content-type": "application/json" };
    const created = await fetch(`${stack.edgeUrl}/v1/generations`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    const job = (await created.json()) as JobView;
    if (created.status !== 202) throw new Error(`create answered ${created.status}: ${JSON.stringify(job)}`);
    log(`job ${job.id} ${job.status} (model ${job.model}, seed ${job.params.seed}); streaming ${job.urls.stream}`);
    const startedAt = performance.now();

    process.stdout.write(body.prompt);
    let numBlocks = 0;
    const stream = await fetch(new URL(job.urls.stream, stack.edgeUrl), { headers });
    await readSse(stream, (event) => {
      if (event.event === "done") return false;
      if (event.event !== "block") return true;
      const block = JSON.parse(event.data) as Block;
      numBlocks += 1;
      process.stdout.write(block.text);
      return true;
    });
    process.stdout.write("\n");

    const finished = (await (await fetch(new URL(job.urls.self, stack.edgeUrl), { headers })).json()) as JobView;
    const seconds = (performance.now() - startedAt) / 1_000;
    log(
      `job ${finished.id} ${finished.status}: finish_reason=${finished.finish_reason} blocks=${numBlocks} ` +
        `tokens=${finished.progress.tokens} forwards=${finished.usage?.forwards ?? "?"} ` +
        `in ${seconds.toFixed(1)} s (${(finished.progress.tokens / seconds).toFixed(1)} tokens/s end to end)`,
    );
    if (finished.status !== "succeeded") process.exitCode = 1;
  } finally {
    await shutdown();
  }
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
