import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob } from "./helpers/api.ts";

/**
 * Live readers are capped per job (4 here) and per tenant (6 here; vitest.config.ts). Issue 21, item 3.
 * A reader's slots free when the object notices its client gone, at the body's next write: within a
 * keep-alive (1 s here) for block events, at the next control event for a text SSE reader.
 */

async function openReader(path: string, key: "readers" | "readersOther" = "readers") {
  const response = await call("GET", path, { key });
  if (response.status !== 200) return { response, close: async () => {} };
  const reader = response.body!.getReader();
  await reader.read(); // the first frame: the reader is admitted and waiting at the tail
  return { response, close: () => reader.cancel() };
}

async function settle() {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}

describe("live readers", () => {
  it("caps live readers per job with 429 + Retry-After, catch-up reads uncounted, and frees a slot when a reader goes", async () => {
    const job = await createJob({ prompt: "In the beginning" }, { key: "readers" });
    const readers = [];
    for (let i = 0; i < 3; i++) readers.push(await openReader(`/v1/generations/${job.id}/stream`));
    const textReader = await openReader(`/v1/generations/${job.id}/text?offset=-1&live=sse`);
    readers.push(textReader);
    expect(readers.map((reader) => reader.response.status)).toEqual([200, 200, 200, 200]);
    const refused = await call("GET", `/v1/generations/${job.id}/stream`, { key: "readers" });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(ErrorBodySchema.parse(await refused.json()).error).toMatchObject({
      type: "rate_limit_error",
      code: "too_many_readers_per_job",
    });
    // A catch-up read is not a live reader.
    expect((await call("GET", `/v1/generations/${job.id}/text?offset=-1`, { key: "readers" })).status).toBe(200);
    await readers[0]!.close();
    await settle();
    const again = await openReader(`/v1/generations/${job.id}/stream`);
    expect(again.response.status).toBe(200);
    for (const reader of [...readers.slice(1), again]) await reader.close();
    await settle();
  });

  it("caps live readers per tenant across its jobs", async () => {
    const [first, second] = [
      await createJob({ prompt: "a" }, { key: "readersOther" }),
      await createJob({ prompt: "b" }, { key: "readersOther" }),
    ];
    const readers = [];
    for (let i = 0; i < 4; i++) readers.push(await openReader(`/v1/generations/${first.id}/stream`, "readersOther"));
    for (let i = 0; i < 2; i++) readers.push(await openReader(`/v1/generations/${second.id}/stream`, "readersOther"));
    expect(readers.map((reader) => reader.response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const refused = await call("GET", `/v1/generations/${second.id}/stream`, { key: "readersOther" });
    expect(refused.status).toBe(429);
    expect(ErrorBodySchema.parse(await refused.json()).error.code).toBe("too_many_readers_per_tenant");
    // Another tenant is not affected.
    const other = await createJob({ prompt: "c" }, { key: "tenantB" });
    const foreign = await call("GET", `/v1/generations/${other.id}/stream`, { key: "tenantB" });
    expect(foreign.status).toBe(200);
    await foreign.body!.cancel();
    await readers[4]!.close();
    await settle();
    expect((await openReader(`/v1/generations/${second.id}/stream`, "readersOther")).response.status).toBe(200);
    for (const reader of readers) await reader.close();
  });
});
