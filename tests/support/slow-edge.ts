/**
 * A latency-adding HTTP proxy in front of the edge, for the worker's side only: each block append is held
 * for `appendDelayMs` before it is forwarded. With the worker's backpressure this paces a job at about one
 * block per delay, so a test can kill, cancel or stop a worker while the job is surely in the middle.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SlowEdge {
  url: string;
  close(): Promise<void>;
}

export async function startSlowEdge(options: { target: string; appendDelayMs: number }): Promise<SlowEdge> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      try {
        if (request.url?.endsWith("/blocks"))
          await new Promise((resolve) => setTimeout(resolve, options.appendDelayMs));
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
        response.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "text/plain" });
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
