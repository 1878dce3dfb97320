/**
 * The SDK (`@bd3-serve/sdk`, which resolves to sdk/src in the workspace) inside the Workers runtime, against the real edge handler: its fetch is the Worker's own
 * fetch handler, so every request goes through routing, auth, validation and the Durable Objects, and every
 * answer through the SDK's zod validation. The GPU worker's side is played with the internal API
 * (helpers/worker.ts). `npm run -w sdk build` bundles the same sources; sdk/test/build.test.ts checks the bundle.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Bd3Client, type FetchLike, NotFoundError, type StreamEvent } from "@bd3-serve/sdk";
import { describe, expect, it } from "vitest";
import worker from "../src/worker.ts";
import { ORIGIN } from "./helpers/api.ts";
import { append, finish, lease } from "./helpers/worker.ts";
import { TEST_KEYS } from "./test-keys.ts";

/** The edge's fetch handler as the SDK's fetch, recording the requests it sent. */
function edgeFetch(): { fetch: FetchLike; requests: Request[] } {
  const requests: Request[] = [];
  return {
    requests,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      requests.push(request.clone());
      return worker.fetch(request, env, createExecutionContext());
    },
  };
}

function sdkClient(fetch: FetchLike): Bd3Client {
  return new Bd3Client({ baseUrl: ORIGIN, apiKey: TEST_KEYS.tenantA.key, fetch, maxRetries: 0 });
}

describe("the SDK in workerd against the edge", () => {
  it("creates a generation (one Idempotency-Key), gets it and finds it in the list", async () => {
    const { fetch, requests } = edgeFetch();
    const client = sdkClient(fetch);
    const created = await client.createGeneration({ prompt: "In the beginning", max_tokens: 64, seed: 3 });
    expect(created).toMatchObject({ object: "generation", status: "queued", text: "" });
    expect(created.params).toMatchObject({ max_tokens: 64, seed: 3 });
    expect(requests[0]?.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{36}$/);
    expect(requests[0]?.headers.get("authorization")).toBe(`Bearer ${TEST_KEYS.tenantA.key}`);

    // The same key again: the same job, not a second one.
    const again = await client.createGeneration(
      { prompt: "In the beginning", max_tokens: 64, seed: 3 },
      { idempotencyKey: requests[0]!.headers.get("idempotency-key")! },
    );
    expect(again.id).toBe(created.id);

    const got = await client.get(created.id);
    expect(got).toMatchObject({ id: created.id, status: "queued", params: created.params });

    const page = await client.listPage({ limit: 100 });
    expect(page.data.map((summary) => summary.id)).toContain(created.id);
    const ids: string[] = [];
    for await (const summary of client.list({ limit: 2, status: "queued" })) ids.push(summary.id);
    expect(ids).toContain(created.id);
    expect(new Set(ids).size).toBe(ids.length);

    await expect(client.get("gen_missing")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("streams a finished job's blocks once each, then done; blocks and wait agree", async () => {
    const client = sdkClient(edgeFetch().fetch);
    const job = await client.createGeneration({ prompt: "In the beginning", max_tokens: 64 });
    const { epoch } = await lease(job.id);
    for (let index = 0; index < 3; index += 1) expect((await append(job.id, epoch, index)).status).toBe(200);
    expect((await finish(job.id, epoch)).status).toBe(200);

    const events: StreamEvent[] = [];
    for await (const event of client.stream(job.id)) events.push(event);
    expect(events.map((event) => (event.type === "block" ? event.block.index : event.type))).toEqual([0, 1, 2, "done"]);
    const done = events.at(-1);
    expect(done?.type === "done" && done.generation.status).toBe("succeeded");

    const finished = await client.wait(job.id, { timeoutMs: 10_000 });
    expect(finished.status).toBe("succeeded");
    expect(finished.text).toBe("block 0. block 1. block 2. ");
    const page = await client.blocks(job.id, { after: 0 });
    expect(page.data.map((block) => block.index)).toEqual([1, 2]);
  });
});
