/**
 * The reference Durable Streams server (@durable-streams/server, in memory) as a process of its own: listens on
 * 127.0.0.1, a free port, and prints one JSON line `{"url": "..."}` once it answers. It runs apart from the
 * test process because that process's event loop is busy while it waits for a suite run.
 *
 * Long-poll timeout: DS_REFERENCE_LONG_POLL_TIMEOUT_MS (default 20000, as the edge; the server's own is 30000).
 * Stops on SIGTERM or SIGINT, and when its stdin closes, so it does not outlive a parent that died.
 */
import { DurableStreamTestServer } from "@durable-streams/server";

const LONG_POLL_TIMEOUT_MS_ENV = "DS_REFERENCE_LONG_POLL_TIMEOUT_MS";
const DEFAULT_LONG_POLL_TIMEOUT_MS = 20_000;

const longPollTimeout = Number(process.env[LONG_POLL_TIMEOUT_MS_ENV] || DEFAULT_LONG_POLL_TIMEOUT_MS);
if (!Number.isInteger(longPollTimeout) || longPollTimeout <= 0)
  throw new Error(`${LONG_POLL_TIMEOUT_MS_ENV} must be a positive integer`);

const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1", longPollTimeout });
const url = await server.start();

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => {});
  process.exit(0);
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
process.stdin.once("end", stop);
process.stdin.resume();

process.stdout.write(`${JSON.stringify({ url, longPollTimeoutMs: longPollTimeout })}\n`);
