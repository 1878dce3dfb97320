import { Agent, request } from "node:http";

export interface LoadOptions {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Absent for a GET. */
  body?: string;
  /** Requests in flight at any time (closed loop: each connection sends its next request on the answer). */
  concurrency: number;
  durationMs: number;
  expectedStatus: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Unexpected answers by HTTP status ("network" for a failed request), so an error count says what failed. */
  errorsByStatus: Record<string, number>;
}

function send(agent: Agent, options: LoadOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(options.url, { method: options.method, headers: options.headers, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (options.body === undefined) req.end();
    else req.end(options.body);
  });
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

/** A small closed-loop load generator over keep-alive HTTP/1.1 (no dependency, same for every target). */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latenciesMs: number[] = [];
  let errors = 0;
  const errorsByStatus: Record<string, number> = {};
  const countError = (kind: string) => {
    errors += 1;
    errorsByStatus[kind] = (errorsByStatus[kind] ?? 0) + 1;
  };
  const started = performance.now();
  const deadline = started + options.durationMs;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const sent = performance.now();
        try {
          const status = await send(agent, options);
          if (status !== options.expectedStatus) countError(String(status));
        } catch (error) {
          countError("network");
          if (process.env.BENCH_DEBUG)
            console.error(
              String(error),
              "start",
              (sent - started).toFixed(0),
              "end",
              (performance.now() - started).toFixed(0),
            );
        }
        const latencyMs = performance.now() - sent;
        latenciesMs.push(latencyMs);
        if (process.env.BENCH_DEBUG && latencyMs > 1_000) {
          console.error("slow", (sent - started).toFixed(0), latencyMs.toFixed(0));
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  agent.destroy();
  latenciesMs.sort((a, b) => a - b);
  return {
    requests: latenciesMs.length,
    errors,
    seconds,
    requestsPerSecond: latenciesMs.length / seconds,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    errorsByStatus,
  };
}
