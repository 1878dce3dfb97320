/**
 * A TCP proxy that adds round-trip time: every chunk read from one side is written to the other side
 * `rttMs / 2` later, in each direction, so a request/response exchange costs `rttMs` more than it does
 * directly. The pipeline bench points a worker's EDGE_URL at it to see how the worker's append protocol
 * behaves when the edge is far away (a GPU region and a Cloudflare location are tens of ms apart).
 *
 * Why TCP and not HTTP: the bench treats the worker-edge protocol as a black box (plain requests today,
 * maybe streamed or pipelined appends tomorrow), and a byte-level proxy delays whatever is on the wire
 * without understanding it. Connection set-up is not delayed (the upstream connect happens at once), so
 * the handshake of a fresh connection costs nothing extra here, while it would cost one round trip on a
 * real network: the measured penalty is a lower bound for protocols that open many connections.
 *
 * Properties: order is preserved per direction (one FIFO queue per direction, only the head is timed, so a
 * change of `rttMs` mid-stream never reorders bytes); half-close is forwarded (an `end` travels through the
 * same queue as the data, so it arrives after the bytes before it); backpressure pauses the reading side
 * while the writing side is full; any number of connections; `rttMs` can be changed while running (the
 * bench uses one proxy for its rtt-0 and rtt-N rounds). Trade-off: a timer per queued head rather than a
 * timer wheel; at the bench's few hundred chunks per second that costs nothing measurable.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface DelayProxy {
  /** `http://host:port` of the proxy, for an EDGE_URL. */
  readonly url: string;
  readonly port: number;
  /** Added round trip in milliseconds (half of it per direction); may be changed at any time. */
  rttMs: number;
  /** Connections accepted since start (a protocol that reuses connections keeps this small). */
  readonly acceptedConnections: number;
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  targetHost: string;
  targetPort: number;
  rttMs?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
}

type Queued = { dueAtMs: number; chunk: Buffer | null };

/**
 * Forwards `from` -> `to` with `delayMs()` of added latency per chunk. A null chunk in the queue is the
 * end of the stream (half-close), delivered after the bytes before it.
 */
function delayedPipe(from: Socket, to: Socket, delayMs: () => number): void {
  const queue: Queued[] = [];
  let timer: NodeJS.Timeout | null = null;
  let isEndQueued = false;

  const pump = () => {
    timer = null;
    const nowMs = performance.now();
    while (queue.length > 0) {
      const head = queue[0] as Queued;
      if (head.dueAtMs > nowMs) {
        timer = setTimeout(pump, head.dueAtMs - nowMs);
        return;
      }
      queue.shift();
      if (to.destroyed) {
        queue.length = 0;
        return;
      }
      if (head.chunk === null) {
        to.end();
        continue;
      }
      // A full socket buffer: stop reading the source until the destination drains (bounded memory).
      if (!to.write(head.chunk) && !from.isPaused()) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    }
  };

  const enqueue = (chunk: Buffer | null) => {
    queue.push({ dueAtMs: performance.now() + delayMs(), chunk });
    // Only the head is timed: a timer already pending for it will pick this chunk up after it.
    if (timer === null && queue.length === 1) pump();
  };

  from.on("data", (chunk: Buffer) => enqueue(chunk));
  const queueEnd = () => {
    if (isEndQueued) return;
    isEndQueued = true;
    enqueue(null);
  };
  from.on("end", queueEnd);
  // A side that closes without a clean end (reset, destroyed) still lets the bytes before it through.
  from.on("close", queueEnd);
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  let acceptedConnections = 0;
  const state = { rttMs: options.rttMs ?? 0 };
  const halfRttMs = () => state.rttMs / 2;

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    acceptedConnections += 1;
    const upstream = connect({
      host: options.targetHost,
      port: options.targetPort,
      allowHalfOpen: true,
      noDelay: true,
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    }
    // An error on either side (reset, refused) ends both: the peer sees a reset as it would without us.
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", destroyBoth);
    upstream.on("error", destroyBoth);
    delayedPipe(client, upstream, halfRttMs);
    delayedPipe(upstream, client, halfRttMs);
    // Once both directions have ended the sockets close themselves; this covers a peer that never ends.
    client.once("close", (hadError) => hadError && upstream.destroy());
    upstream.once("close", (hadError) => hadError && client.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("delay proxy: no TCP address");
  const port = address.port;

  return {
    url: `http://${host}:${port}`,
    port,
    get rttMs() {
      return state.rttMs;
    },
    set rttMs(value: number) {
      if (!Number.isFinite(value) || value < 0) throw new Error(`rttMs must be >= 0, got ${value}`);
      state.rttMs = value;
    },
    get acceptedConnections() {
      return acceptedConnections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
