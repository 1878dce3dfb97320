import { describe, expect, it } from "vitest";
import { clientFromEnv } from "../src/cli/env.ts";
import { Bd3Client } from "../src/client.ts";
import { WaitTimeoutError } from "../src/errors.ts";
import { waitForTerminal } from "../src/wait.ts";
import { fakeFetch, jobSummary, jobView, json } from "./fake-fetch.ts";

const page = (ids: string[], nextCursor: string | null) => ({
  object: "list",
  data: ids.map((id) => jobSummary({ id })),
  has_more: nextCursor !== null,
  next_cursor: nextCursor,
});

describe("list", () => {
  it("iterates over every page, passing next_cursor back as cursor", async () => {
    const { fetch, requests } = fakeFetch([
      () => json(page(["a", "b"], "c1")),
      () => json(page(["c", "d"], "c2")),
      () => json(page(["e"], null)),
    ]);
    const client = new Bd3Client({ baseUrl: "https://api.example.com/base/", apiKey: "k", fetch });
    const ids: string[] = [];
    for await (const job of client.list({ limit: 2, status: "succeeded" })) ids.push(job.id);
    expect(ids).toEqual(["a", "b", "c", "d", "e"]);
    expect(requests.map((request) => `${request.url.pathname}${request.url.search}`)).toEqual([
      "/base/v1/generations?limit=2&status=succeeded",
      "/base/v1/generations?limit=2&status=succeeded&cursor=c1",
      "/base/v1/generations?limit=2&status=succeeded&cursor=c2",
    ]);
  });

  it("fetches no further page than the caller reads", async () => {
    const { fetch, requests } = fakeFetch([() => json(page(["a", "b"], "c1"))]);
    const client = new Bd3Client({ baseUrl: "https://api.example.com", apiKey: "k", fetch });
    for await (const job of client.list()) if (job.id === "a") break;
    expect(requests).toHaveLength(1);
  });
});

describe("wait", () => {
  it("asks the server to hold each poll (Prefer: wait) and returns the terminal view", async () => {
    const { fetch, requests } = fakeFetch([
      () => json(jobView({ status: "running" }), 200, { "preference-applied": "wait=60" }),
      () => json(jobView({ status: "succeeded", finish_reason: "eos" }), 200, { "preference-applied": "wait=60" }),
    ]);
    const client = new Bd3Client({ baseUrl: "https://api.example.com", apiKey: "k", fetch });
    const view = await client.wait("gen_01HZX", { timeoutMs: 120_000 });
    expect(view.status).toBe("succeeded");
    expect(requests.map((request) => request.headers.get("prefer"))).toEqual(["wait=60", "wait=60"]);
  });

  it("pauses between polls of a server that answers at once, and times out", async () => {
    let now = 0;
    const sleeps: number[] = [];
    const polls: number[] = [];
    const error = await waitForTerminal(
      "gen_1",
      {
        poll: async (waitSeconds) => {
          polls.push(waitSeconds);
          return { view: jobView({ status: "queued" }), held: false };
        },
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
        now: () => now,
      },
      { timeoutMs: 5_000, pollIntervalMs: 1_000 },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(polls[0]).toBe(5);
    expect(sleeps).toEqual([1_000, 1_500, 2_250, 250]);
  });
});

describe("clientFromEnv", () => {
  it("names the missing variable", () => {
    expect(() => clientFromEnv({ BD3_API_KEY: "k" })).toThrow("BD3_API_URL is not set");
    expect(() => clientFromEnv({ BD3_API_URL: "http://127.0.0.1:8787" })).toThrow("BD3_API_KEY is not set");
    expect(() => clientFromEnv({ BD3_API_URL: "not a url", BD3_API_KEY: "k" })).toThrow("BD3_API_URL is not a URL");
    expect(clientFromEnv({ BD3_API_URL: "http://127.0.0.1:8787", BD3_API_KEY: "k" })).toBeInstanceOf(Bd3Client);
  });
});
