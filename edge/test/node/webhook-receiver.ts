import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP webhook receiver for the workerd tests, started by the global setup on 127.0.0.1.
 * Tests script it over HTTP (they run inside workerd, not in this process):
 * - `POST /_control/plan` `{ path, responses: [{ status, headers?, delayMs? }] }`: the answers for the
 *   next requests to `path`, in order; after the last one it answers 200;
 * - `GET /_control/requests?path=...`: every request received on `path` (headers and body).
 */
interface PlannedResponse {
  status: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

interface ReceivedRequest {
  method: string;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startWebhookReceiver(): Promise<{ url: string; server: Server }> {
  const plans = new Map<string, PlannedResponse[]>();
  const received = new Map<string, ReceivedRequest[]>();
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://receiver");
    const body = await readBody(request);
    if (url.pathname === "/_control/plan") {
      const { path, responses } = JSON.parse(body) as { path: string; responses: PlannedResponse[] };
      plans.set(path, [...responses]);
      response.writeHead(204).end();
      return;
    }
    if (url.pathname === "/_control/requests") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(received.get(url.searchParams.get("path") ?? "") ?? []));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(", ") : (value ?? ""),
      ]),
    );
    const list = received.get(url.pathname) ?? [];
    list.push({ method: request.method ?? "", headers, body, receivedAt: Date.now() });
    received.set(url.pathname, list);
    const planned = plans.get(url.pathname)?.shift() ?? { status: 200 };
    if (planned.delayMs) await new Promise((resolve) => setTimeout(resolve, planned.delayMs));
    if (!response.destroyed) response.writeHead(planned.status, planned.headers ?? {}).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
