/**
 * Issue 17, item 8: observability on the edge. One JSON log line per request (middleware/request-log.ts) and
 * the operator counts (observability/metrics.ts) behind `GET /v1/admin/metrics`, through the edge's fetch
 * handler inside workerd.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ErrorBody } from "@bd3-serve/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/worker.ts";
import { call, createJob, json, ORIGIN } from "./helpers/api.ts";
import { TEST_KEYS } from "./test-keys.ts";

interface RequestLine {
  event: string;
  request_id: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  tenant_id?: string;
  key_id?: string;
}

interface Metrics {
  object: string;
  scope: string;
  since: string | null;
  generations_created: { created: number };
  responses: Record<"2xx" | "3xx" | "4xx" | "5xx", number>;
  queue_sends: { ok: number; failed: number };
  webhook_deliveries: { succeeded: number; retrying: number; failed: number; gave_up: number };
}

/** Every console line written while `work` ran, and the request lines among them. */
async function logged(work: () => Response | Promise<Response>) {
  const spies = (["log", "warn", "error"] as const).map((level) => vi.spyOn(console, level));
  try {
    const response = await work();
    const text = spies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(" ")));
    const requests = text
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as RequestLine)
      .filter((line) => line.event === "request");
    return { response, text, requests };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

async function metrics(): Promise<Metrics> {
  const response = await call("GET", "/v1/admin/metrics", { key: "admin" });
  expect(response.status).toBe(200);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  return json<Metrics>(response);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("request log", () => {
  it("writes one JSON line per request with its id, route, status, duration and caller, never the query", async () => {
    const job = await createJob({ prompt: "logged", max_tokens: 16 });
    const { response, text, requests } = await logged(() =>
      call("GET", `/v1/generations/${job.id}?probe=query-must-not-appear`, {
        headers: { "x-request-id": "req-obs-1" },
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("req-obs-1");
    const line = requests.find((entry) => entry.request_id === "req-obs-1");
    expect(line).toEqual({
      event: "request",
      request_id: "req-obs-1",
      method: "GET",
      path: `/v1/generations/${job.id}`,
      status: 200,
      duration_ms: expect.any(Number),
      tenant_id: TEST_KEYS.tenantA.tenantId,
      key_id: TEST_KEYS.tenantA.id,
    });
    expect(line!.duration_ms).toBeGreaterThanOrEqual(0);
    for (const entry of text) {
      expect(entry).not.toContain("query-must-not-appear");
      expect(entry).not.toContain(TEST_KEYS.tenantA.key);
    }
  });

  it("logs refused requests too: a minted request id, the status, no caller, and no stream token", async () => {
    const token = "st1.secret-token-must-not-appear";
    const { response, text, requests } = await logged(() =>
      call("GET", `/v1/generations/gen_0000/stream?stream_token=${token}`, { key: null }),
    );
    expect(response.status).toBe(401);
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(/^req_[0-9a-f]{24}$/);
    const line = requests.find((entry) => entry.request_id === id);
    expect(line).toMatchObject({ method: "GET", path: "/v1/generations/gen_0000/stream", status: 401 });
    expect(line).not.toHaveProperty("tenant_id");
    expect(line).not.toHaveProperty("key_id");
    for (const entry of text) expect(entry).not.toContain("secret-token-must-not-appear");
  });
});

describe("GET /v1/admin/metrics", () => {
  it("counts per isolate: a create, a 4xx and the queue send behind the create", async () => {
    const before = await metrics();
    expect(before).toMatchObject({ object: "metrics", scope: "isolate" });
    await createJob({ prompt: "counted", max_tokens: 16 });
    const invalid = await call("POST", "/v1/generations", { body: {} });
    expect(invalid.status).toBe(400);
    const after = await metrics();
    expect(after.generations_created.created).toBeGreaterThanOrEqual(before.generations_created.created + 1);
    expect(after.responses["4xx"]).toBeGreaterThanOrEqual(before.responses["4xx"] + 1);
    // The metrics read before and the create itself.
    expect(after.responses["2xx"]).toBeGreaterThanOrEqual(before.responses["2xx"] + 2);
    expect(after.since).not.toBeNull();
    // The send runs in the job object, in the background; local workerd runs it in this same isolate.
    await vi.waitFor(
      async () => expect((await metrics()).queue_sends.ok).toBeGreaterThanOrEqual(before.queue_sends.ok + 1),
      { timeout: 10_000, interval: 100 },
    );
  });

  it("refuses a key without the admin scope (403) and a request without a key (401)", async () => {
    const denied = await call("GET", "/v1/admin/metrics", { key: "tenantA" });
    expect(denied.status).toBe(403);
    const deniedBody = await json<ErrorBody>(denied);
    expect(deniedBody.error).toMatchObject({ type: "permission_error", code: "missing_scope" });
    const anonymous = await call("GET", "/v1/admin/metrics", { key: null });
    expect(anonymous.status).toBe(401);
    expect((await json<ErrorBody>(anonymous)).error.type).toBe("authentication_error");
  });

  it("writes each response to Analytics Engine when the METRICS binding is there", async () => {
    const writeDataPoint = vi.fn();
    const withDataset = { ...env, METRICS: { writeDataPoint } };
    const response = await worker.fetch(
      new Request(`${ORIGIN}/v1/models`, { headers: { Authorization: `Bearer ${TEST_KEYS.tenantA.key}` } }),
      withDataset,
      createExecutionContext(),
    );
    expect(response.status).toBe(200);
    expect(writeDataPoint).toHaveBeenCalledWith({
      blobs: ["responses", "2xx", "200 GET"],
      doubles: [1, expect.any(Number)],
      indexes: [TEST_KEYS.tenantA.tenantId],
    });
  });

  it("counts a create once: its idempotent replay is no create", async () => {
    const writeDataPoint = vi.fn();
    const withDataset = { ...env, METRICS: { writeDataPoint } };
    const headers = {
      Authorization: `Bearer ${TEST_KEYS.tenantA.key}`,
      "Content-Type": "application/json",
      "Idempotency-Key": `obs-replay-${crypto.randomUUID()}`,
    };
    const create = () =>
      worker.fetch(
        new Request(`${ORIGIN}/v1/generations`, {
          method: "POST",
          headers,
          body: JSON.stringify({ prompt: "once", max_tokens: 16 }),
        }),
        withDataset,
        createExecutionContext(),
      );
    expect((await create()).status).toBe(202);
    const replay = await create();
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    const counters = writeDataPoint.mock.calls.map(([point]) => (point as { blobs: string[] }).blobs.slice(0, 2));
    expect(counters.filter(([name]) => name === "generations_created")).toEqual([["generations_created", "created"]]);
    expect(counters.filter(([name]) => name === "responses")).toEqual([
      ["responses", "2xx"],
      ["responses", "2xx"],
    ]);
  });

  it("is in the OpenAPI document, admin-scoped", async () => {
    const document = await json<{ paths: Record<string, Record<string, { security?: unknown }>> }>(
      await call("GET", "/openapi.json", { key: null }),
    );
    expect(document.paths["/v1/admin/metrics"]?.get?.security).toEqual([{ apiKey: ["admin"] }]);
  });
});
