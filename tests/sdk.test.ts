/**
 * The SDK (`@bd3-serve/sdk`) and its `bd3` CLI against the whole local stack: a create with the automatic
 * Idempotency-Key, a block stream cut in the middle of a frame by a proxy (the SDK resumes with
 * Last-Event-ID and gives every block once, in order), wait, list over several pages, cancel, and
 * `bd3 generate --json` as a child process.
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Bd3Client, type Block, type FetchLike, type JobSummary, type JobView } from "@bd3-serve/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import { API_KEY, findLongSeed, longJobTokens, MODEL_NAME, REPO_ROOT, stackAddresses } from "./support/stack.ts";

const fixture = useStackFixture();

/** Requests a client made, for asserting on headers and pages. */
function recordingFetch(): { fetch: FetchLike; requests: { url: URL; headers: Headers }[] } {
  const requests: { url: URL; headers: Headers }[] = [];
  return {
    requests,
    fetch: (input, init) => {
      requests.push({ url: new URL(input), headers: new Headers(init.headers) });
      return fetch(input, init);
    },
  };
}

interface DroppingProxy {
  url: string;
  /** Streams still to cut (set it to cut more), connections it cut, the Last-Event-ID of each stream request. */
  cutsLeft: number;
  drops: number;
  lastEventIds: (string | null)[];
  close(): Promise<void>;
}

/**
 * A streaming proxy in front of the edge for the client's side: the next `cutsLeft` SSE responses that get
 * that far are cut after `blocksBeforeCut` block frames, in the middle of the next frame (the socket
 * destroyed, the upstream request aborted so the edge frees the reader's slot). Everything else passes
 * through untouched.
 */
async function startDroppingProxy(target: string, cuts: number, blocksBeforeCut: number): Promise<DroppingProxy> {
  const proxy: DroppingProxy = { url: "", cutsLeft: cuts, drops: 0, lastEventIds: [], close: async () => {} };
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const isStream = /\/stream(\?|$)/.test(request.url ?? "");
    if (isStream) proxy.lastEventIds.push((request.headers["last-event-id"] as string | undefined) ?? null);
    const upstreamAbort = new AbortController();
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === "string" && name !== "host" && name !== "connection") headers.set(name, value);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const upstream = await fetch(`${target}${request.url ?? "/"}`, {
        method: request.method ?? "GET",
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        signal: upstreamAbort.signal,
      });
      const replyHeaders: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!["content-length", "transfer-encoding", "content-encoding", "connection"].includes(name))
          replyHeaders[name] = value;
      });
      response.writeHead(upstream.status, replyHeaders);
      response.flushHeaders();
      const mayCut = isStream && upstream.ok;
      let seen = "";
      const decoder = new TextDecoder();
      for await (const chunk of upstream.body ?? []) {
        const text = decoder.decode(chunk as Uint8Array, { stream: true });
        const isCutting = mayCut && proxy.cutsLeft > 0;
        if (isCutting) seen += text;
        const cutMark = isCutting ? [...seen.matchAll(/event: block/g)][blocksBeforeCut] : undefined;
        if (cutMark?.index !== undefined) {
          // Forward up to the middle of the frame after the allowed blocks, then drop the connection.
          const alreadySent = seen.length - text.length;
          const cutAt = cutMark.index + "event: block\ndata: {".length;
          if (cutAt > alreadySent) response.write(seen.slice(alreadySent, cutAt));
          proxy.cutsLeft--;
          proxy.drops++;
          upstreamAbort.abort();
          response.destroy();
          return;
        }
        response.write(text);
      }
      response.end();
    } catch {
      upstreamAbort.abort();
      if (!response.headersSent) response.writeHead(502).end();
      else response.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}

const PROMPT = "In the beginning";
let longSeed = 1;

beforeAll(async () => {
  longSeed = await findLongSeed(PROMPT);
});

describe("the SDK against the local stack", () => {
  let proxy: DroppingProxy;
  beforeAll(async () => {
    proxy = await startDroppingProxy(stackAddresses().edgeUrl, 2, 3);
  });
  afterAll(() => proxy.close());

  it("creates with an automatic Idempotency-Key, streams through dropped connections, waits and lists", async () => {
    const recorded = recordingFetch();
    const client = new Bd3Client({ baseUrl: stackAddresses().edgeUrl, apiKey: API_KEY, fetch: recorded.fetch });
    const body = { model: MODEL_NAME, prompt: PROMPT, max_tokens: longJobTokens(), seed: longSeed };
    const created = await client.createGeneration(body);
    expect(created.status).toBe("queued");
    const key = recorded.requests[0]?.headers.get("idempotency-key") ?? "";
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    // The key names the job: the same key and body give the same job back.
    expect((await client.createGeneration(body, { idempotencyKey: key })).id).toBe(created.id);

    await fixture.startInProcessWorker({ EDGE_URL: fixture.slowEdgeUrl });
    const streaming = new Bd3Client({ baseUrl: proxy.url, apiKey: API_KEY });
    const blocks: Block[] = [];
    let summary: JobSummary | undefined;
    let reconnects = 0;
    for await (const event of streaming.stream(created.id, { onReconnect: () => reconnects++ })) {
      if (event.type === "block") blocks.push(event.block);
      else summary = event.generation;
    }
    expect(proxy.drops).toBe(2);
    expect(reconnects).toBeGreaterThanOrEqual(2);
    // Cut after blocks 0-2 of the first connection, then after 3 more of the second: resumed from each.
    expect(proxy.lastEventIds.slice(0, 3)).toEqual([null, "2", "5"]);
    expect(blocks.map((block) => block.index)).toEqual(blocks.map((_, index) => index));
    expect(blocks.length).toBeGreaterThan(6);
    expect(summary?.status).toBe("succeeded");
    expect(summary?.progress.blocks).toBe(blocks.length);

    const view: JobView = await client.wait(created.id, { timeoutMs: 30_000 });
    expect(view.status).toBe("succeeded");
    expect(blocks.map((block) => block.text).join("")).toBe(view.text);
    expect((await client.get(created.id)).text).toBe(view.text);

    const second = await client.createGeneration({
      model: MODEL_NAME,
      prompt: "And God said",
      max_tokens: 32,
      seed: 3,
    });
    const finished = await client.wait(second.id, { timeoutMs: 60_000 });
    expect(finished.status).toBe("succeeded");
    const pagesBefore = recorded.requests.length;
    const newest: string[] = [];
    for await (const job of client.list({ limit: 1 })) {
      newest.push(job.id);
      if (newest.length === 3) break;
    }
    expect(newest.slice(0, 2)).toEqual([second.id, created.id]);
    expect(newest.length).toBeGreaterThanOrEqual(2);
    expect(recorded.requests.length - pagesBefore).toBe(newest.length); // one page per job at limit 1
    const succeeded: string[] = [];
    for await (const job of client.list({ status: "succeeded", limit: 100 })) succeeded.push(job.id);
    expect(succeeded).toEqual(expect.arrayContaining([created.id, second.id]));
  });

  it("cancels a running job", async () => {
    const client = new Bd3Client({ baseUrl: stackAddresses().edgeUrl, apiKey: API_KEY });
    const created = await client.createGeneration({
      model: MODEL_NAME,
      prompt: PROMPT,
      max_tokens: longJobTokens(),
      seed: longSeed,
    });
    await fixture.startInProcessWorker({ EDGE_URL: fixture.slowEdgeUrl });
    for await (const event of client.stream(created.id)) {
      if (event.type === "block" && event.block.index >= 1) break;
    }
    const canceling = await client.cancel(created.id);
    expect(["running", "canceled"]).toContain(canceling.status);
    const canceled = await client.wait(created.id, { timeoutMs: 20_000 });
    expect(canceled.status).toBe("canceled");
    expect(canceled.finish_reason).toBe("canceled");
    expect((await client.cancel(created.id)).status).toBe("canceled"); // idempotent
  });

  it("runs `bd3 generate --json` as a child process, through a dropped connection", async () => {
    await fixture.startInProcessWorker({ EDGE_URL: fixture.slowEdgeUrl });
    proxy.cutsLeft = 1;
    const child = spawn(
      join(REPO_ROOT, "node_modules/.bin/bd3"),
      [
        "generate",
        PROMPT,
        "--max-tokens",
        String(longJobTokens()),
        "--seed",
        String(longSeed),
        "--model",
        MODEL_NAME,
        "--json",
      ],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          BD3_API_URL: proxy.url,
          BD3_API_KEY: API_KEY,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0] ?? "") as JobView;
    expect(result.status).toBe("succeeded");
    expect(result.usage?.completion_tokens).toBeGreaterThan(0);
    expect(stderr).toContain(result.id);
    const client = new Bd3Client({ baseUrl: stackAddresses().edgeUrl, apiKey: API_KEY });
    expect(result.text).toBe((await client.get(result.id)).text);
    expect(result.text).not.toBe("");
    expect(proxy.cutsLeft).toBe(0); // the CLI's stream was cut once, and it still printed the whole job
    expect(stderr).toContain("resuming after block");
  });
});
