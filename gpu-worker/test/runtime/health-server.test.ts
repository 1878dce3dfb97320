import { afterEach, describe, expect, it } from "vitest";
import { type HealthState, startHealthServer } from "../../src/runtime/observability/health-server.ts";
import { createWorkerMetrics } from "../../src/runtime/observability/metrics.ts";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function serve(state: HealthState) {
  const metrics = createWorkerMetrics({ maxBatchSize: 8 });
  const server = await startHealthServer({
    port: 0,
    host: "127.0.0.1",
    registry: metrics.registry,
    state: () => state,
  });
  closers.push(() => server.close());
  const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);
  return { metrics, get };
}

const healthy: HealthState = {
  isModelLoaded: true,
  isQueueReachable: true,
  isDraining: false,
  brokenReason: undefined,
};

describe("health server", () => {
  it("is ready when the model is loaded and the queue reachable", async () => {
    const { get } = await serve({ ...healthy });
    expect((await get("/readyz")).status).toBe(200);
    expect((await get("/healthz")).status).toBe(200);
  });

  it("is not ready while the queue is unreachable or the worker drains", async () => {
    const { get } = await serve({ ...healthy, isQueueReachable: false, isDraining: true });
    const reply = await get("/readyz");
    expect(reply.status).toBe(503);
    expect(await reply.json()).toMatchObject({ checks: { queue_reachable: false, accepting_jobs: false } });
  });

  it("names the execution provider in both bodies once the model is loaded", async () => {
    const loading = await serve({ ...healthy, isModelLoaded: false });
    expect(await (await loading.get("/readyz")).json()).not.toHaveProperty("execution_provider");
    const { get } = await serve({ ...healthy, executionProvider: "cuda" });
    expect(await (await get("/readyz")).json()).toMatchObject({ status: "ready", execution_provider: "cuda" });
    expect(await (await get("/healthz")).json()).toEqual({ status: "ok", execution_provider: "cuda" });
  });

  it("reports a broken engine on /healthz", async () => {
    const { get } = await serve({ ...healthy, brokenReason: "engine failed repeatedly" });
    expect((await get("/healthz")).status).toBe(503);
  });

  it("exposes the worker's metrics in the Prometheus text format", async () => {
    const { get, metrics } = await serve({ ...healthy });
    metrics.generatedTokens.inc(120);
    metrics.recordTokens(120);
    metrics.forwardLatency.observe(0.03);
    const text = await (await get("/metrics")).text();
    for (const name of [
      "bd3_worker_generated_tokens_total 120",
      "bd3_worker_tokens_per_second 2",
      "bd3_worker_blocks_appended_total",
      "bd3_worker_forwards_total",
      "bd3_worker_batch_occupancy_ratio",
      "bd3_worker_queue_wait_seconds_bucket",
      "bd3_worker_forward_latency_seconds_bucket",
      "bd3_worker_kv_bytes_in_use",
      "bd3_worker_process_resident_memory_bytes",
    ]) {
      expect(text).toContain(name);
    }
  });
});
