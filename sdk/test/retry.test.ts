import { JobViewSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { Bd3Client } from "../src/client.ts";
import {
  ConnectionError,
  InternalServerError,
  InvalidRequestError,
  RateLimitError,
  RequestTimeoutError,
} from "../src/errors.ts";
import { isRetryableStatus, retryDelayMs } from "../src/http/backoff.ts";
import { parseRetryAfter } from "../src/http/retry-after.ts";
import { Transport } from "../src/http/transport.ts";
import { apiError, fakeFetch, jobView, json, networkError } from "./fake-fetch.ts";

const FAST = { baseDelayMs: 1, maxDelayMs: 2 };

function transportWith(fetch: ReturnType<typeof fakeFetch>["fetch"], maxRetries = 3) {
  const sleeps: number[] = [];
  const transport = new Transport({
    baseUrl: "https://api.example.com/",
    apiKey: "bd3_test",
    fetch,
    maxRetries,
    timeoutMs: 1_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  return { transport, sleeps };
}

const GET = { method: "GET", path: "/v1/generations/gen_01HZX" } as const;

describe("retryDelayMs", () => {
  it("doubles from the base up to the cap, with half of each delay random", () => {
    const options = { baseDelayMs: 500, maxDelayMs: 8_000 };
    expect([0, 1, 2, 3, 4, 5, 10].map((attempt) => retryDelayMs(attempt, null, options, () => 0))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 4_000, 4_000,
    ]);
    expect([0, 1, 4, 10].map((attempt) => retryDelayMs(attempt, null, options, () => 1))).toEqual([
      500, 1_000, 8_000, 8_000,
    ]);
  });

  it("waits Retry-After when given, plus at most 10%, capped at a minute", () => {
    expect(retryDelayMs(0, 3, undefined, () => 0)).toBe(3_000);
    expect(retryDelayMs(5, 3, undefined, () => 1)).toBe(3_300);
    expect(retryDelayMs(0, 0, undefined, () => 1)).toBe(0);
    expect(retryDelayMs(0, 3_600, undefined, () => 0)).toBe(60_000);
  });

  it("retries 408, 429 and 5xx only", () => {
    expect([400, 401, 404, 408, 409, 410, 422, 429, 500, 502, 503, 504].filter(isRetryableStatus)).toEqual([
      408, 429, 500, 502, 503, 504,
    ]);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const headers = (value?: string) => new Headers(value === undefined ? {} : { "retry-after": value });

  it("reads delta-seconds and HTTP dates; null when absent or unreadable", () => {
    expect(parseRetryAfter(headers("7"), now)).toBe(7);
    expect(parseRetryAfter(headers(" 0 "), now)).toBe(0);
    expect(parseRetryAfter(headers("Thu, 01 Jan 2026 00:00:30 GMT"), now)).toBe(30);
    expect(parseRetryAfter(headers("Wed, 31 Dec 2025 23:00:00 GMT"), now)).toBe(0);
    expect(parseRetryAfter(headers(), now)).toBeNull();
    expect(parseRetryAfter(headers("soon"), now)).toBeNull();
    expect(parseRetryAfter(headers("-5"), now)).toBeNull();
  });
});

describe("Transport retries", () => {
  it("retries 5xx and network errors, then answers", async () => {
    const { fetch, requests } = fakeFetch([
      () => apiError(503, "api_error", "busy"),
      networkError,
      () => new Response("<html>bad gateway</html>", { status: 502 }),
      () => json(jobView()),
    ]);
    const { transport, sleeps } = transportWith(fetch);
    const { data } = await transport.request(GET, JobViewSchema);
    expect(data.id).toBe("gen_01HZX");
    expect(requests).toHaveLength(4);
    expect(sleeps).toEqual([375, 750, 1_500]); // 500 * 2^n, three quarters of it with random() = 0.5
  });

  it("waits the Retry-After of a 429 instead of the backoff", async () => {
    const { fetch } = fakeFetch([
      () => apiError(429, "rate_limit_error", "slow down", {}, { "Retry-After": "2" }),
      () => json(jobView()),
    ]);
    const { transport, sleeps } = transportWith(fetch);
    await transport.request(GET, JobViewSchema);
    expect(sleeps).toEqual([2_100]);
  });

  it("throws the last error after maxRetries retries, carrying Retry-After", async () => {
    const { fetch, requests } = fakeFetch(
      [() => apiError(429, "rate_limit_error", "slow down", {}, { "Retry-After": "1" })],
      { repeatLast: true },
    );
    const { transport } = transportWith(fetch, 2);
    const error = await transport.request(GET, JobViewSchema).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterSeconds).toBe(1);
    expect(requests).toHaveLength(3);
  });

  it("does not retry other 4xx", async () => {
    const { fetch, requests } = fakeFetch([() => apiError(400, "invalid_request_error", "bad", { param: "limit" })]);
    const { transport } = transportWith(fetch);
    await expect(transport.request(GET, JobViewSchema)).rejects.toBeInstanceOf(InvalidRequestError);
    expect(requests).toHaveLength(1);
  });

  it("gives up on network errors as ConnectionError with the cause", async () => {
    const { fetch } = fakeFetch([networkError], { repeatLast: true });
    const { transport } = transportWith(fetch, 1);
    const error = await transport.request(GET, JobViewSchema).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it("times out a silent attempt, retries it, and fails with RequestTimeoutError", async () => {
    const hang = (request: { signal: AbortSignal | undefined }) =>
      new Promise<Response>((_, reject) => {
        request.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    const { fetch, requests } = fakeFetch([hang, hang]);
    const transport = new Transport({
      baseUrl: "https://api.example.com",
      apiKey: "k",
      fetch,
      maxRetries: 1,
      timeoutMs: 20,
      sleep: async () => {},
    });
    await expect(transport.request(GET, JobViewSchema)).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(requests).toHaveLength(2);
  });
});

describe("createGeneration idempotency", () => {
  it("sends one generated Idempotency-Key (a UUID) on every attempt", async () => {
    const { fetch, requests } = fakeFetch([
      networkError,
      () => apiError(500, "api_error", "internal error; retry later"),
      () => json(jobView({ status: "queued" }), 202),
    ]);
    const client = new Bd3Client({ baseUrl: "https://api.example.com", apiKey: "k", fetch, backoff: FAST });
    const view = await client.createGeneration({ prompt: "In the beginning", max_tokens: 64 });
    expect(view.status).toBe("queued");
    const keys = requests.map((request) => request.headers.get("idempotency-key"));
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(keys).size).toBe(1);
    expect(requests.every((request) => request.body === '{"prompt":"In the beginning","max_tokens":64}')).toBe(true);
    expect(requests[0]?.headers.get("authorization")).toBe("Bearer k");
    expect(requests[0]?.headers.get("content-type")).toBe("application/json");
  });

  it("uses the caller's key, and a fresh one per call otherwise", async () => {
    const { fetch, requests } = fakeFetch([() => json(jobView()), () => json(jobView()), () => json(jobView())]);
    const client = new Bd3Client({ baseUrl: "https://api.example.com", apiKey: "k", fetch });
    await client.createGeneration({ prompt: "x" }, { idempotencyKey: "order-42" });
    await client.createGeneration({ prompt: "x" });
    await client.createGeneration({ prompt: "x" });
    const keys = requests.map((request) => request.headers.get("idempotency-key"));
    expect(keys[0]).toBe("order-42");
    expect(keys[1]).not.toBe(keys[2]);
  });

  it("surfaces a 5xx as InternalServerError once the retries are spent", async () => {
    const { fetch } = fakeFetch([() => apiError(500, "api_error", "internal error; retry later")], {
      repeatLast: true,
    });
    const client = new Bd3Client({ baseUrl: "https://x.test", apiKey: "k", fetch, maxRetries: 2, backoff: FAST });
    await expect(client.createGeneration({ prompt: "x" })).rejects.toBeInstanceOf(InternalServerError);
  });
});
