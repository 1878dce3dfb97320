/**
 * A latency-adding HTTP proxy in front of the edge, for the worker's side only: each block costs
 * `appendDelayMs` before it is forwarded, on the single-block route and on the block stream alike (a batch of
 * n blocks waits n delays, and batches pass one at a time). That paces a job at about one block per delay
 * whatever the worker's batching and pipelining, so a test can kill, cancel or stop a worker while the job is
 * surely in the middle. Response headers pass through (the block stream's replies live in them).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SlowEdge {
  url: string;
  close(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Blocks in a block-stream body (a JSON array of records); 1 when it does not parse. */
function blocksIn(chunks: readonly Buffer[]): number {
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    return Array.isArray(body) ? Math.max(1, body.length) : 1;
  } catch {
    return 1;
  }
}

export async function startSlowEdge(options: { target: string; appendDelayMs: number }): Promise<SlowEdge> {
  /** Block-stream requests pass one at a time, in arrival order. */
  let blockStreamTurn: Promise<void> = Promise.resolve();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      try {
        if (request.url?.endsWith("/blocks")) await sleep(options.appendDelayMs);
        if (request.url?.endsWith("/block-stream")) {
          const turn = blockStreamTurn.then(() => sleep(options.appendDelayMs * blocksIn(chunks)));
          blockStreamTurn = turn.catch(() => {});
          await turn;
        }
        const headers = new Headers();
        for (const [name, value] of Object.entries(request.headers)) {
          if (typeof value === "string" && name !== "host" && name !== "content-length") headers.set(name, value);
        }
        const upstream = await fetch(`${options.target}${request.url ?? "/"}`, {
          method: request.method ?? "GET",
          headers,
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        });
        const body = Buffer.from(await upstream.arrayBuffer());
        const replyHeaders: Record<string, string> = {};
        upstream.headers.forEach((value, name) => {
          if (name !== "content-length" && name !== "transfer-encoding" && name !== "content-encoding")
            replyHeaders[name] = value;
        });
        response.writeHead(upstream.status, replyHeaders);
        response.end(body);
      } catch (error) {
        response.writeHead(502, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { type: "api_error", message: String(error) } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
