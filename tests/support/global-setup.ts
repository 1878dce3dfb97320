/**
 * Starts the local stack once for every whole-stack test: fauxqs with the jobs queue and its DLQ (redrive after
 * STACK_MAX_RECEIVE_COUNT receives) and the edge under `wrangler dev` (persisted to a fresh temp dir), pointed
 * at that queue. Provides their addresses to the tests through `inject`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFauxqs } from "fauxqs";
import type { TestProject } from "vitest/node";

/** Receives before SQS moves a job message to the DLQ (kept small so the poison test is quick). */
export const STACK_MAX_RECEIVE_COUNT = 2;
const EDGE_READY_TIMEOUT_MS = 45_000;
const REPO_ROOT = resolve(import.meta.dirname, "../..");

declare module "vitest" {
  export interface ProvidedContext {
    sqsEndpoint: string;
    queueUrl: string;
    dlqUrl: string;
    edgeUrl: string;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

async function waitForEdge(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + EDGE_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output()}`);
    try {
      const reply = await fetch(`${url}/healthz`);
      if (reply.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
  throw new Error(`the edge did not answer /healthz within ${EDGE_READY_TIMEOUT_MS} ms:\n${output()}`);
}

export default async function setup(project: TestProject) {
  const sqs = await startFauxqs({ port: 0, logger: false });
  const dlq = sqs.createQueue("bd3-jobs-dlq");
  const queue = sqs.createQueue("bd3-jobs", {
    attributes: {
      VisibilityTimeout: "30",
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: STACK_MAX_RECEIVE_COUNT }),
    },
  });

  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), "bd3-edge-state-"));
  let log = "";
  const wrangler = spawn(
    join(REPO_ROOT, "node_modules/.bin/wrangler"),
    [
      "dev",
      "--config",
      "wrangler.toml",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      stateDir,
      "--inspector-port",
      String(await freePort()),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
      "--var",
      `SQS_ENDPOINT:${sqs.address}`,
      "--var",
      `SQS_QUEUE_URL:${queue.queueUrl}`,
    ],
    {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    },
  );
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  wrangler.stdout?.on("data", append);
  wrangler.stderr?.on("data", append);
  const edgeUrl = `http://127.0.0.1:${port}`;

  const teardown = async () => {
    if (wrangler.pid !== undefined && wrangler.exitCode === null) {
      const exited = new Promise((resolveExit) => wrangler.once("exit", resolveExit));
      process.kill(-wrangler.pid, "SIGTERM");
      await Promise.race([exited, new Promise((resolveWait) => setTimeout(resolveWait, 5_000))]);
      if (wrangler.exitCode === null) process.kill(-wrangler.pid, "SIGKILL");
    }
    await sqs.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    await waitForEdge(edgeUrl, wrangler, () => log);
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
