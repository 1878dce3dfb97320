/**
 * The two kinds of stream reader the bench opens against the edge:
 * - a paused reader: a raw TCP connection that sends one GET, reads the first chunk of the reply (to see it
 *   was accepted), then never reads again, the slowest client there is;
 * - a live reader: follows `/v1/generations/:id/stream` with fetch until `done`, checking that the blocks
 *   arrive in order, each once.
 * Plus what the kernel holds for the paused ones (their sockets' queues in /proc/net/tcp), so the bench can
 * say how much of the document left workerd and sits in socket buffers instead.
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { sseEvents } from "../../scripts/sse-events.ts";

export interface PausedReader {
  /** The reply's HTTP status once its first bytes arrived; 0 before (a long-poll answers only at its end). */
  status: number;
  socket: Socket;
}

/** Opens a paused reader of `path`; resolves once the request is sent. */
export function openPausedReader(edgeUrl: string, path: string, apiKey: string): Promise<PausedReader> {
  const url = new URL(path, edgeUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const reader: PausedReader = { status: 0, socket };
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${apiKey}\r\n` +
          "Accept: text/event-stream\r\n\r\n",
        () => resolve(reader),
      );
    });
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      reader.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString("latin1"))?.[1] ?? 0);
    });
  });
}

/** Bytes queued in the kernel on both ends of connections to `port` (send + receive queues), in MiB. */
export function kernelQueuedMiB(port: number): number {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  let bytes = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, remote, , queues] = [fields[1], fields[2], fields[3], fields[4]];
    if (local === undefined || remote === undefined || queues === undefined) continue;
    if (!local.endsWith(`:${portHex}`) && !remote.endsWith(`:${portHex}`)) continue;
    const [tx, rx] = queues.split(":").map((hex) => Number.parseInt(hex, 16));
    bytes += (tx ?? 0) + (rx ?? 0);
  }
  return bytes / 1024 / 1024;
}

export interface LiveReadResult {
  blocks: number;
  isInOrder: boolean;
  sawDone: boolean;
  reconnects: number;
}

/**
 * Follows a job's block events to `done`, reconnecting with Last-Event-ID when a connection ends early (the
 * edge closes an SSE connection after about a minute at the tail); a block out of order fails the reader.
 */
export async function followBlocks(edgeUrl: string, jobId: string, apiKey: string): Promise<LiveReadResult> {
  const result: LiveReadResult = { blocks: 0, isInOrder: true, sawDone: false, reconnects: -1 };
  let lastIndex = -1;
  while (!result.sawDone) {
    result.reconnects++;
    const reply = await fetch(new URL(`/v1/generations/${jobId}/stream`, edgeUrl), {
      headers: { authorization: `Bearer ${apiKey}`, "last-event-id": String(lastIndex) },
    });
    if (reply.status !== 200 || reply.body === null) throw new Error(`stream of ${jobId}: ${reply.status}`);
    for await (const event of sseEvents(reply.body)) {
      if (event.event === "block") {
        const index = Number(event.id);
        if (index !== lastIndex + 1) result.isInOrder = false;
        lastIndex = index;
        result.blocks++;
      } else if (event.event === "done") {
        result.sawDone = true;
      }
    }
  }
  return result;
}
