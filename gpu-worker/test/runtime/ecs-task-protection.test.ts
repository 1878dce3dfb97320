/**
 * ECS task scale-in protection against a real HTTP server standing in for the ECS container agent
 * (`${ECS_AGENT_URI}/task-protection/v1/state`): the exact requests, renewal while jobs are held, failures
 * logged and retried, never thrown; and the worker asking for it when it takes a job and dropping it after.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { createEcsTaskProtection } from "../../src/runtime/fleet/ecs-task-protection.ts";
import { createLogger } from "../../src/runtime/observability/logger.ts";
import { startWorker } from "../../src/runtime/worker.ts";
import { FakeEdge, FakeEngine, FakeQueue, jobMessage, queueMessage } from "./fakes.ts";

interface AgentRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

interface FakeAgent {
  uri: string;
  requests: AgentRequest[];
  /** Replies to give, in order (then 200 with a protection). */
  replies: { status: number; body: unknown }[];
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/bd3/0123456789abcdef";
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function startFakeAgent(): Promise<FakeAgent> {
  const requests: AgentRequest[] = [];
  const replies: { status: number; body: unknown }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(text) as { ProtectionEnabled: boolean };
      requests.push({
        method: request.method ?? "",
        path: request.url ?? "",
        contentType: request.headers["content-type"],
        body,
      });
      const reply = replies.shift() ?? {
        status: 200,
        body: { protection: { ProtectionEnabled: body.ProtectionEnabled, TaskArn: TASK_ARN } },
      };
      response.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const agent: FakeAgent = {
    uri: `http://127.0.0.1:${port}/api/0123456789abcdef-1234567890`,
    requests,
    replies,
    async waitForRequests(count, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`agent got ${requests.length} requests, not ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  closers.push(() => agent.close());
  return agent;
}

/** A pino logger whose JSON lines land in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: "debug", workerId: "w-test", destination }), lines };
}

const PATH = "/api/0123456789abcdef-1234567890/task-protection/v1/state";
const protect = (minutes: number) => ({
  method: "PUT",
  path: PATH,
  contentType: "application/json",
  body: { ProtectionEnabled: true, ExpiresInMinutes: minutes },
});
const unprotect = { method: "PUT", path: PATH, contentType: "application/json", body: { ProtectionEnabled: false } };

describe("ECS task protection", () => {
  it("protects once while any job is held and unprotects when none is", async () => {
    const agent = await startFakeAgent();
    const { logger } = capturingLogger();
    const protection = createEcsTaskProtection({ agentUri: `${agent.uri}/`, expiresInMinutes: 30, logger });
    closers.push(() => protection.close());
    for (const held of [1, 2, 3, 2]) protection.onHeldJobs(held);
    await protection.settled();
    expect(agent.requests).toEqual([protect(30)]);
    for (const held of [1, 0]) protection.onHeldJobs(held);
    await protection.settled();
    expect(agent.requests).toEqual([protect(30), unprotect]);
    // 0 -> 1 -> 0 while the first request is in flight: the last word is the current count.
    protection.onHeldJobs(1);
    protection.onHeldJobs(0);
    await protection.settled();
    expect(agent.requests).toEqual([protect(30), unprotect, protect(30), unprotect]);
  });

  it("renews the protection while jobs are held, and stops renewing once none is", async () => {
    const agent = await startFakeAgent();
    const { logger } = capturingLogger();
    const protection = createEcsTaskProtection({ agentUri: agent.uri, expiresInMinutes: 2, renewEveryMs: 60, logger });
    closers.push(() => protection.close());
    protection.onHeldJobs(1);
    await agent.waitForRequests(3);
    protection.onHeldJobs(0);
    await protection.settled();
    const count = agent.requests.length;
    expect(agent.requests.slice(0, -1)).toEqual(Array.from({ length: count - 1 }, () => protect(2)));
    expect(agent.requests.at(-1)).toEqual(unprotect);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(agent.requests).toHaveLength(count);
  });

  it("logs a refused or failed request and retries it; never throws", async () => {
    const agent = await startFakeAgent();
    agent.replies.push(
      { status: 500, body: { error: { Code: "ServerException", Message: "boom" } } },
      // The agent answers 200 with a `failure` when ECS refused the change.
      { status: 200, body: { failure: { Arn: TASK_ARN, Reason: "TASK_NOT_VALID", Detail: "not in a service" } } },
    );
    const { logger, lines } = capturingLogger();
    const protection = createEcsTaskProtection({
      agentUri: agent.uri,
      expiresInMinutes: 60,
      retryAfterFailureMs: 20,
      logger,
    });
    closers.push(() => protection.close());
    expect(() => protection.onHeldJobs(1)).not.toThrow();
    await agent.waitForRequests(3);
    await protection.settled();
    expect(agent.requests).toEqual([protect(60), protect(60), protect(60)]);
    const failures = lines.filter((line) => line.msg === "task protection update failed");
    expect(failures).toHaveLength(2);
    expect(JSON.stringify(failures[0])).toContain("ServerException");
    expect(JSON.stringify(failures[1])).toContain("TASK_NOT_VALID");
  });

  it("survives an agent that is not there", async () => {
    const agent = await startFakeAgent();
    await agent.close();
    const { logger, lines } = capturingLogger();
    const protection = createEcsTaskProtection({ agentUri: agent.uri, expiresInMinutes: 60, logger });
    protection.onHeldJobs(1);
    await protection.settled();
    await protection.close();
    expect(lines.filter((line) => line.level === "warn")).toHaveLength(1);
  });
});

describe("the worker on ECS (ECS_AGENT_URI set)", () => {
  it("asks for protection when it takes a job and drops it when the job is done", async () => {
    const agent = await startFakeAgent();
    const config = loadConfig({
      env: {
        SQS_QUEUE_URL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs",
        SQS_ENDPOINT: "http://127.0.0.1:4566",
        AWS_REGION: "us-east-1",
        EDGE_URL: "http://edge.test",
        MODEL_DIR: "unused",
        METRICS_PORT: "0",
        RECEIVE_WAIT_SECONDS: "1",
        ECS_AGENT_URI: agent.uri,
        TASK_PROTECTION_EXPIRES_IN_MINUTES: "90",
      },
      envFile: null,
    });
    const queue = new FakeQueue();
    const { logger } = capturingLogger();
    const worker = await startWorker(config, { engine: new FakeEngine(3), queue, edge: new FakeEdge(), logger });
    closers.push(async () => void (await worker.stop(Date.now() + 5_000)));
    expect(agent.requests).toEqual([]);
    queue.push(queueMessage(jobMessage()));
    await agent.waitForRequests(2);
    expect(queue.ops("delete")).toHaveLength(1);
    expect(agent.requests).toEqual([protect(90), unprotect]);
  });
});
