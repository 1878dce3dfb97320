import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineOptionsFromConfig } from "../../src/config/engine-options.ts";
import { ConfigError, loadConfig } from "../../src/config/load-config.ts";
import { createEngine, type Engine } from "../../src/engine/index.ts";
import {
  checkExecutionProvider,
  ExecutionProviderError,
  isGpuExecutionProvider,
} from "../../src/runtime/execution-provider.ts";
import { createLogger, silentLogger } from "../../src/runtime/observability/logger.ts";
import { startWorker } from "../../src/runtime/worker.ts";
import { FakeEdge, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
const MODEL_DIR = resolve(REPO_ROOT, "models/tiny-random-b4");

/** A worker that asks for CUDA first: this machine has no CUDA provider library, so the session is the CPU's. */
const env = {
  SQS_QUEUE_URL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs",
  SQS_ENDPOINT: "http://127.0.0.1:4566",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  EDGE_URL: "http://edge.test",
  MODEL_DIR,
  MODEL_NAME: "fake-model",
  EXECUTION_PROVIDERS: "cuda,cpu",
  MAX_BATCH_SIZE: "2",
  METRICS_PORT: "0",
  METRICS_HOST: "127.0.0.1",
  RECEIVE_WAIT_SECONDS: "1",
  SAMPLER_THREADS: "0",
};

describe("checkExecutionProvider", () => {
  it("treats every provider but the CPU's as a GPU", () => {
    expect(["cuda", "webgpu", "tensorrt", "dml"].every(isGpuExecutionProvider)).toBe(true);
    expect(isGpuExecutionProvider("cpu")).toBe(false);
  });

  it("refuses a CPU session when a GPU was asked for, naming EXECUTION_PROVIDERS and ALLOW_CPU_FALLBACK", () => {
    const check = () => checkExecutionProvider({ asked: ["cuda", "cpu"], active: "cpu", allowCpuFallback: false });
    expect(check).toThrow(ExecutionProviderError);
    expect(check).toThrow(/EXECUTION_PROVIDERS=cuda,cpu asks for a GPU provider \(cuda\).*ALLOW_CPU_FALLBACK=true/);
  });

  it("accepts the CPU when allowed or asked for alone, and any GPU that came up", () => {
    expect(checkExecutionProvider({ asked: ["cuda", "cpu"], active: "cpu", allowCpuFallback: true })).toEqual({
      isFallback: true,
    });
    expect(checkExecutionProvider({ asked: ["cpu"], active: "cpu", allowCpuFallback: false })).toEqual({
      isFallback: false,
    });
    expect(
      checkExecutionProvider({ asked: ["cuda", "webgpu", "cpu"], active: "webgpu", allowCpuFallback: false }),
    ).toEqual({ isFallback: true });
  });
});

describe("ALLOW_CPU_FALLBACK", () => {
  it("defaults to false, reads true/false and names a misspelt value", () => {
    expect(loadConfig({ env, envFile: null }).engine.allowCpuFallback).toBe(false);
    expect(loadConfig({ env: { ...env, ALLOW_CPU_FALLBACK: "true" }, envFile: null }).engine.allowCpuFallback).toBe(
      true,
    );
    expect(() => loadConfig({ env: { ...env, ALLOW_CPU_FALLBACK: "yes" }, envFile: null })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { ...env, ALLOW_CPU_FALLBACK: "yes" }, envFile: null })).toThrow(
      /ALLOW_CPU_FALLBACK/,
    );
  });
});

describe("a worker asking for cuda,cpu on a machine without CUDA", () => {
  let engine: Engine;
  beforeAll(async () => {
    const config = loadConfig({ env, envFile: null });
    engine = await createEngine(engineOptionsFromConfig(config.engine));
  });
  afterAll(async () => {
    await engine.close();
  });

  it("gets a CPU session from the engine (the CUDA provider library cannot load here)", () => {
    expect(engine.executionProvider).toBe("cpu");
  });

  it("refuses to start without ALLOW_CPU_FALLBACK, before touching the queue", async () => {
    const queue = new FakeQueue();
    const config = loadConfig({ env, envFile: null });
    await expect(startWorker(config, { engine, queue, edge: new FakeEdge(), logger: silentLogger() })).rejects.toThrow(
      /EXECUTION_PROVIDERS=cuda,cpu/,
    );
    expect(queue.calls).toEqual([]);
  });

  it("with ALLOW_CPU_FALLBACK=true starts and says cpu: readiness, metric and the first job's log line", async () => {
    const config = loadConfig({ env: { ...env, ALLOW_CPU_FALLBACK: "true" }, envFile: null });
    const lines: Record<string, unknown>[] = [];
    const destination = new PassThrough();
    destination.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
    });
    const queue = new FakeQueue();
    const edge = new FakeEdge();
    const logger = createLogger({ level: "info", workerId: "w-test", destination });
    // Its own engine: stop() closes the engine it was given.
    const ownEngine = await createEngine(engineOptionsFromConfig(config.engine));
    const worker = await startWorker(config, { engine: ownEngine, queue, edge, logger });
    try {
      const ready = await fetch(`http://127.0.0.1:${worker.healthPort}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: "ready", execution_provider: "cpu" });
      const metrics = await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text();
      expect(metrics).toContain('bd3_worker_execution_provider{name="cpu"} 1');

      queue.push(queueMessage(jobMessage({ job_id: "job_a", params: { ...jobMessage().params, max_tokens: 8 } })));
      await waitFor(() => edge.of("finish").length === 1);
      queue.push(queueMessage(jobMessage({ job_id: "job_b", params: { ...jobMessage().params, max_tokens: 8 } })));
      await waitFor(() => edge.of("finish").length === 2);
      const started = lines.filter((line) => line.msg === "job started");
      expect(started.map((line) => [line.job_id, line.execution_provider])).toEqual([
        ["job_a", "cpu"],
        ["job_b", undefined],
      ]);
      expect(lines.find((line) => line.msg === "worker started")).toMatchObject({
        execution_provider: "cpu",
        execution_providers_asked: "cuda,cpu",
        execution_provider_fallback: true,
      });
    } finally {
      await worker.stop(Date.now() + 5_000);
    }
  });
});

describe("npm run worker (main.ts) with EXECUTION_PROVIDERS=cuda,cpu and no CUDA", () => {
  it("exits 2 naming EXECUTION_PROVIDERS", () => {
    const child = spawnSync(process.execPath, ["--import", "tsx", "gpu-worker/src/runtime/main.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...env, LOG_LEVEL: "fatal" },
      encoding: "utf8",
      timeout: 50_000,
    });
    expect(child.stderr).toContain("EXECUTION_PROVIDERS=cuda,cpu asks for a GPU provider (cuda)");
    expect(child.stderr).toContain("ALLOW_CPU_FALLBACK=true");
    expect(child.status).toBe(2);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the condition");
    await new Promise((done) => setTimeout(done, 20));
  }
}
