/**
 * Cloudflare Access service-token headers (CF_ACCESS_CLIENT_ID / CF_ACCESS_CLIENT_SECRET) against a real HTTP
 * server standing in for the edge's worker host: present on every kind of call when set (lease, block stream
 * append, heartbeat, finish, fail, release, the single-block append; the DLQ watcher's lease and fail), absent
 * when not, never in a log line; and a redirect or a foreign 403 (what Access answers a refused token with)
 * surfaces as itself instead of being followed or read as a stale epoch.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { createEdgeClient, EdgeCallError } from "../../src/runtime/edge/index.ts";
import { createLogger } from "../../src/runtime/observability/logger.ts";
import { startWorker } from "../../src/runtime/worker.ts";
import { FakeEngine, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";
import { FAKE_WORKER_ENV } from "./runner-env.ts";

const TOKEN = { clientId: "0123456789abcdef.access", clientSecret: "s3cret-0123456789abcdef0123456789abcdef" };

interface SeenRequest {
  /** The route's last segment: lease, block-stream, heartbeat, ... */
  call: string;
  jobId: string;
  clientId: string | undefined;
  clientSecret: string | undefined;
}

interface FakeEdgeHost {
  url: string;
  seen: SeenRequest[];
  /** Answers the next requests instead of the worker API (then the normal replies again). */
  override: ((request: IncomingMessage, response: ServerResponse) => void)[];
  /** The first block-stream reply waits for this (held until a heartbeat came, in the worker test). */
  holdFirstAppend: Promise<void> | undefined;
  waitFor(predicate: (seen: SeenRequest[]) => boolean, timeoutMs?: number): Promise<void>;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** The worker API as far as these tests need it: every call succeeds, the block stream acknowledges batches. */
async function startEdgeHost(): Promise<FakeEdgeHost> {
  const committed = new Map<string, number>();
  const host: FakeEdgeHost = {
    url: "",
    seen: [],
    override: [],
    holdFirstAppend: undefined,
    async waitFor(predicate, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(host.seen)) {
        if (Date.now() > deadline) throw new Error(`timed out; seen: ${host.seen.map((entry) => entry.call)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
  let appends = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const [, jobId = "", call = ""] = /^\/internal\/v1\/jobs\/([^/]+)\/([^/?]+)/.exec(request.url ?? "") ?? [];
      host.seen.push({
        call: call || (request.url ?? ""),
        jobId,
        clientId: header(request, "cf-access-client-id"),
        clientSecret: header(request, "cf-access-client-secret"),
      });
      const override = host.override.shift();
      if (override !== undefined) return override(request, response);
      const json = (body: unknown, headers: Record<string, string> = {}) =>
        response.writeHead(200, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
      const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown) : undefined;
      switch (call) {
        case "lease":
          committed.set(jobId, 0);
          return json({
            epoch: 1,
            status: "running",
            committed_blocks: 0,
            committed_token_ids: [],
            is_canceled: false,
          });
        case "block-stream": {
          if (appends++ === 0) await host.holdFirstAppend;
          const count = (committed.get(jobId) ?? 0) + (body as unknown[]).length;
          committed.set(jobId, count);
          return json(
            { committed_blocks: count, is_canceled: false },
            {
              "Bd3-Committed-Blocks": String(count),
              "Stream-Next-Offset": String(count),
              "Producer-Epoch": header(request, "producer-epoch") ?? "1",
              "Producer-Seq": header(request, "producer-seq") ?? "0",
            },
          );
        }
        case "blocks":
          return json({ result: "appended", committed_blocks: 1, is_canceled: false });
        case "heartbeat":
          return json({ status: "running", is_canceled: false });
        case "finish":
          return json({ status: "succeeded" });
        case "fail":
          return json({ status: "failed" });
        case "release":
          return json({ status: "running" });
        default:
          return response.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return host;
}

/** Every kind of call the edge client makes, once, for one job. */
async function callEverything(edge: ReturnType<typeof createEdgeClient>): Promise<void> {
  await edge.lease("job_1", "cap", { worker_id: "w1" });
  const stream = edge.openBlockStream("job_1", "cap", { epoch: 1, startBlock: 0, producerId: "w1" });
  stream.append({ index: 0, text: "In", token_ids: [1] });
  await stream.flush();
  await edge.append("job_1", "cap", { epoch: 1, block: { index: 1, text: " the", token_count: 1 }, token_ids: [2] });
  await edge.heartbeat("job_1", "cap", { epoch: 1 });
  await edge.finish("job_1", "cap", {
    epoch: 1,
    finish_reason: "max_tokens",
    usage: { prompt_tokens: 1, completion_tokens: 2, forwards: 2 },
  });
  await edge.fail("job_1", "cap", { epoch: 1, code: "x", message: "x", is_retryable: false });
  await edge.release("job_1", "cap", { epoch: 1 });
}

const ALL_CALLS = ["lease", "block-stream", "blocks", "heartbeat", "finish", "fail", "release"];

describe("the edge client and a Cloudflare Access service token", () => {
  it("sends CF-Access-Client-Id and CF-Access-Client-Secret on every kind of call when it has a token", async () => {
    const host = await startEdgeHost();
    await callEverything(createEdgeClient({ baseUrl: host.url, accessServiceToken: TOKEN }));
    expect(host.seen.map((entry) => entry.call)).toEqual(ALL_CALLS);
    for (const entry of host.seen) {
      expect(entry, entry.call).toMatchObject({ clientId: TOKEN.clientId, clientSecret: TOKEN.clientSecret });
    }
  });

  it("sends neither header without a token", async () => {
    const host = await startEdgeHost();
    await callEverything(createEdgeClient({ baseUrl: host.url }));
    expect(host.seen.map((entry) => entry.call)).toEqual(ALL_CALLS);
    for (const entry of host.seen) {
      expect(entry, entry.call).toMatchObject({ clientId: undefined, clientSecret: undefined });
    }
  });

  it("does not follow a redirect (an Access login page would read as a 200) and says what it likely is", async () => {
    const host = await startEdgeHost();
    const toLogin = (_request: IncomingMessage, response: ServerResponse) =>
      response.writeHead(302, { location: `${host.url}/cdn-cgi/access/login` }).end();
    host.override.push(toLogin, toLogin);
    const edge = createEdgeClient({ baseUrl: host.url, accessServiceToken: TOKEN });
    const error = await edge.lease("job_1", "cap", { worker_id: "w1" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EdgeCallError);
    expect(error).toMatchObject({ status: 302, isRetryable: false });
    expect((error as Error).message).toMatch(/Cloudflare Access/);
    const stream = edge.openBlockStream("job_1", "cap", { epoch: 1, startBlock: 0, producerId: "w1" });
    stream.append({ index: 0, text: "In", token_ids: [1] });
    await expect(stream.flush()).rejects.toMatchObject({ status: 302, isRetryable: false });
    // Neither the call nor the block stream went to the login page.
    expect(host.seen.map((entry) => entry.call)).toEqual(["lease", "block-stream"]);
  });

  it("reads a 403 on the block stream as a stale epoch only when the edge's fencing says so", async () => {
    const host = await startEdgeHost();
    host.override.push((_request, response) => response.writeHead(403, { "content-type": "text/html" }).end("<html>"));
    const edge = createEdgeClient({ baseUrl: host.url });
    const stream = edge.openBlockStream("job_1", "cap", { epoch: 1, startBlock: 0, producerId: "w1" });
    stream.append({ index: 0, text: "In", token_ids: [1] });
    const error = await stream.flush().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 403, isRetryable: false });
    expect((error as EdgeCallError).code).toBeUndefined();
  });
});

describe("a worker with CF_ACCESS_CLIENT_ID / CF_ACCESS_CLIENT_SECRET", () => {
  it("sends the token on its lease, block stream, heartbeat and finish, and the DLQ watcher's lease and fail; logs neither", async () => {
    const host = await startEdgeHost();
    let heartbeatSeen: () => void = () => {};
    // The job's first batch is answered only after a heartbeat went out, so the test sees one for sure.
    host.holdFirstAppend = new Promise<void>((resolve) => {
      heartbeatSeen = resolve;
    });
    // A refused first lease: the retry's log line carries the error, which must not carry the token.
    host.override.push((_request, response) => response.writeHead(503).end("busy"));
    const lines: string[] = [];
    const logger = createLogger({
      level: "trace",
      workerId: "w-access",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString("utf8"));
          done();
        },
      }),
    });
    const config = loadConfig({
      env: {
        ...FAKE_WORKER_ENV,
        EDGE_URL: host.url,
        CF_ACCESS_CLIENT_ID: TOKEN.clientId,
        CF_ACCESS_CLIENT_SECRET: TOKEN.clientSecret,
        VISIBILITY_TIMEOUT_SECONDS: "2",
        HEARTBEAT_INTERVAL_SECONDS: "0.1",
      },
      envFile: null,
    });
    const queue = new FakeQueue();
    const dlq = new FakeQueue("http://sqs.local/000000000000/jobs-dlq");
    const worker = await startWorker(config, { engine: new FakeEngine(3), queue, dlq, logger });
    closers.push(async () => void (await worker.stop(Date.now() + 5_000)));

    queue.push(queueMessage(jobMessage({ job_id: "job_live" })));
    await host.waitFor((seen) => seen.some((entry) => entry.call === "heartbeat"));
    heartbeatSeen();
    await host.waitFor((seen) => seen.some((entry) => entry.call === "finish"));
    dlq.push(queueMessage(jobMessage({ job_id: "job_dead" }), { queueUrl: dlq.url, receiveCount: 5 }));
    await host.waitFor((seen) => seen.some((entry) => entry.call === "fail"));

    const callsOf = (jobId: string) => [...new Set(host.seen.filter((e) => e.jobId === jobId).map((e) => e.call))];
    expect(callsOf("job_live")).toEqual(["lease", "block-stream", "heartbeat", "finish"]);
    expect(callsOf("job_dead")).toEqual(["lease", "fail"]);
    for (const entry of host.seen) {
      expect(entry, `${entry.jobId} ${entry.call}`).toMatchObject({
        clientId: TOKEN.clientId,
        clientSecret: TOKEN.clientSecret,
      });
    }
    await worker.stop(Date.now() + 5_000);
    const log = lines.join("");
    expect(log).toContain("edge call failed; retrying");
    expect(log).toContain('"edge_access_service_token":true');
    expect(log).not.toContain(TOKEN.clientSecret);
    expect(log).not.toContain(TOKEN.clientId);
  });
});
