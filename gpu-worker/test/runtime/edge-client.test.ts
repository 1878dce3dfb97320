import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelayMs, createEdgeClient, EdgeCallError } from "../../src/runtime/edge/index.ts";

const okLease = { epoch: 2, status: "running", committed_blocks: 1, committed_token_ids: [5, 6], is_canceled: false };
/** An edge that leaves out `final_finish_reason` (an older edge, or nothing to report) parses as null. */
const parsedLease = { ...okLease, final_finish_reason: null };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

describe("edge client", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends the capability and parses the lease", async () => {
    const fetch = vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => json(200, okLease));
    const edge = createEdgeClient({ baseUrl: "http://edge.test/", fetch });
    await expect(edge.lease("job_1", "cap", { worker_id: "w1" })).resolves.toEqual(parsedLease);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe("http://edge.test/internal/v1/jobs/job_1/lease");
    expect(new Headers(init?.headers).get("authorization")).toBe("Bearer cap");
    expect(JSON.parse(String(init?.body))).toEqual({ worker_id: "w1" });
  });

  it("retries 5xx and network errors with backoff, then succeeds", async () => {
    const replies = [
      () => json(503, { error: { type: "api_error", message: "busy" } }),
      () => {
        throw new TypeError("fetch failed");
      },
      () => json(200, okLease),
    ];
    const fetch = vi.fn(async () => replies.shift()!());
    const onRetry = vi.fn();
    const edge = createEdgeClient({ baseUrl: "http://edge.test", fetch, random: () => 1, onRetry });
    const lease = edge.lease("job_1", "cap", { worker_id: "w1" });
    await vi.advanceTimersByTimeAsync(200); // first retry waits up to 200 ms
    expect(fetch).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(400); // second up to 400 ms
    await expect(lease).resolves.toEqual(parsedLease);
    expect(onRetry.mock.calls.map((call) => call[2])).toEqual([1, 2]);
  });

  it("does not retry a 409 and surfaces its code", async () => {
    const fetch = vi.fn(async () =>
      json(409, { error: { type: "conflict_error", code: "stale_epoch", message: "newer lease" } }),
    );
    const edge = createEdgeClient({ baseUrl: "http://edge.test", fetch });
    const error = await edge
      .append("job_1", "cap", { epoch: 1, block: { index: 0, text: "a", token_count: 1 }, token_ids: [1] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EdgeCallError);
    expect(error).toMatchObject({ status: 409, code: "stale_epoch", isRetryable: false });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("gives up after the bounded number of attempts", async () => {
    const fetch = vi.fn(async () => json(502, {}));
    const edge = createEdgeClient({ baseUrl: "http://edge.test", fetch, backoff: { maxAttempts: 3 } });
    const result = edge.heartbeat("job_1", "cap", { epoch: 1 }).catch((caught: unknown) => caught);
    await vi.runAllTimersAsync();
    expect(await result).toMatchObject({ status: 502, isRetryable: true });
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it("refuses a reply that does not match the worker API", async () => {
    const fetch = vi.fn(async () => json(200, { epoch: "two" }));
    const edge = createEdgeClient({ baseUrl: "http://edge.test", fetch });
    await expect(edge.lease("job_1", "cap", { worker_id: "w1" })).rejects.toMatchObject({ isRetryable: false });
  });
});

describe("backoffDelayMs", () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
  it("doubles the cap per retry and stays bounded", () => {
    expect([1, 2, 3, 4, 5, 9].map((retry) => backoffDelayMs(retry, policy, () => 0.999_999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
  });
  it("draws uniformly below the cap (full jitter)", () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(200);
  });
});
