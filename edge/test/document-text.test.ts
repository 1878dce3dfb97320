import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob } from "./helpers/api.ts";
import { appendStream, finish, lease, recordOf } from "./helpers/worker.ts";

const offsetOf = (position: number) => `0000000000000000_${String(position).padStart(16, "0")}`;
const TEXT = ["In the beginning ", "God créated ", "the heaven 😀 ", "and the earth."];
const bytes = (text: string) => new TextEncoder().encode(text).byteLength;

async function jobWithText({ finished }: { finished: boolean }) {
  const job = await createJob();
  const { epoch } = await lease(job.id);
  await appendStream(
    job.id,
    { epoch, seq: 0 },
    TEXT.map((text, index) => recordOf(index, text)),
  );
  if (finished) await finish(job.id, epoch);
  return { jobId: job.id, epoch };
}

function readText(jobId: string, query = "", headers: Record<string, string> = {}, method = "GET") {
  return call(method, `/v1/generations/${jobId}/text${query}`, { headers });
}

describe("GET /v1/generations/:id/text (the document as a Durable Streams text stream)", () => {
  it("reads the whole document as UTF-8 text with the tail offset; open until the job ends", async () => {
    const { jobId, epoch } = await jobWithText({ finished: false });
    const open = await readText(jobId);
    expect(open.status).toBe(200);
    expect(open.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(await open.text()).toBe(TEXT.join(""));
    expect(open.headers.get("Stream-Next-Offset")).toBe(offsetOf(bytes(TEXT.join(""))));
    expect(open.headers.get("Stream-Up-To-Date")).toBe("true");
    expect(open.headers.get("Stream-Closed")).toBeNull();
    await finish(jobId, epoch);
    const atTail = await readText(jobId, `?offset=${offsetOf(bytes(TEXT.join("")))}`);
    expect(await atTail.text()).toBe("");
    expect(atTail.headers.get("Stream-Closed")).toBe("true");
  });

  it("resumes from an offset it returned, byte-exact", async () => {
    const { jobId } = await jobWithText({ finished: true });
    const offset = offsetOf(bytes(TEXT[0]! + TEXT[1]!));
    expect(await (await readText(jobId, `?offset=${offset}`)).text()).toBe(TEXT[2]! + TEXT[3]!);
  });

  it("answers a repeated read of finished history with 304 and caches it privately", async () => {
    const { jobId } = await jobWithText({ finished: true });
    const first = await readText(jobId, "?offset=-1");
    const etag = first.headers.get("ETag");
    expect(etag).toMatch(/^".+:c"$/);
    expect(first.headers.get("Cache-Control")).toBe("private, max-age=86400, immutable");
    const again = await readText(jobId, "?offset=-1", { "If-None-Match": etag! });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  it("answers a repeated read of history from the edge's cache, per tenant, and never caches the open tail", async () => {
    const { jobId, epoch } = await jobWithText({ finished: false });
    const half = offsetOf(bytes(TEXT[0]! + TEXT[1]!));
    // The document is open: its tail page is not immutable, so it is read from the object every time.
    expect((await readText(jobId, `?offset=${half}`)).headers.get("Bd3-Cache")).toBeNull();
    expect((await readText(jobId, `?offset=${half}`)).headers.get("Bd3-Cache")).toBeNull();
    await finish(jobId, epoch);
    const first = await readText(jobId, `?offset=${half}`);
    expect(first.headers.get("Bd3-Cache")).toBeNull();
    expect(await first.text()).toBe(TEXT[2]! + TEXT[3]!);
    const second = await readText(jobId, `?offset=${half}`);
    expect(second.headers.get("Bd3-Cache")).toBe("hit");
    expect(second.headers.get("Cache-Control")).toMatch(/^private, max-age=\d+, immutable$/);
    expect(second.headers.get("Stream-Closed")).toBe("true");
    expect(await second.text()).toBe(TEXT[2]! + TEXT[3]!);
    const conditional = await readText(jobId, `?offset=${half}`, { "If-None-Match": first.headers.get("ETag")! });
    expect(conditional.status).toBe(304);
    expect((await call("GET", `/v1/generations/${jobId}/text?offset=${half}`, { key: "tenantB" })).status).toBe(404);
  });

  it("wakes a long-poll at the tail when a block is appended, and ends SSE with streamClosed", async () => {
    const { jobId, epoch } = await jobWithText({ finished: false });
    const tail = offsetOf(bytes(TEXT.join("")));
    const polling = readText(jobId, `?offset=${tail}&live=long-poll`);
    const sse = await readText(jobId, `?offset=${tail}&live=sse`);
    await appendStream(jobId, { epoch, seq: 1 }, [recordOf(4, " Amen.")]);
    const polled = await polling;
    expect(polled.status).toBe(200);
    expect(await polled.text()).toBe(" Amen.");
    expect(polled.headers.get("Stream-Cursor")).not.toBeNull();
    await finish(jobId, epoch);
    const events = await sse.text();
    expect(events).toContain("data: Amen.");
    expect(events.trimEnd().endsWith('"streamClosed":true}')).toBe(true);
  });

  it("is read-only for tenants, and another tenant's job is a 404", async () => {
    const { jobId } = await jobWithText({ finished: true });
    for (const method of ["POST", "PUT", "DELETE"]) {
      const response = await call(method, `/v1/generations/${jobId}/text`, {
        body: "x",
        headers: { "Content-Type": "text/plain" },
      });
      expect(response.status, method).toBe(405);
    }
    expect((await call("GET", `/v1/generations/${jobId}/text`, { key: "tenantB" })).status).toBe(404);
    expect((await call("GET", `/v1/generations/${jobId}/text`, { key: null })).status).toBe(401);
  });

  it.each([
    ["a malformed offset", "?offset=12,3"],
    ["a negative offset", "?offset=-5"],
    ["an offset past the tail", `?offset=${offsetOf(10_000)}`],
    ["an empty offset", "?offset="],
    ["two offsets", "?offset=-1&offset=-1"],
    ["a live mode without an offset", "?live=long-poll"],
  ])("refuses %s with a 400 naming offset", async (_what, query) => {
    const { jobId } = await jobWithText({ finished: true });
    const response = await readText(jobId, query);
    expect(response.status).toBe(400);
    expect(ErrorBodySchema.parse(await response.json()).error.param).toBe("offset");
  });

  it("answers HEAD with the tail and the closed state, and an unknown job with a 404", async () => {
    const { jobId } = await jobWithText({ finished: true });
    const head = await readText(jobId, "", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("Stream-Next-Offset")).toBe(offsetOf(bytes(TEXT.join(""))));
    expect(head.headers.get("Stream-Closed")).toBe("true");
    const missing = await readText(`gen_${"0".repeat(64)}`);
    expect(missing.status).toBe(404);
  });

  it("puts the text in the job view and the view's urls", async () => {
    const { jobId } = await jobWithText({ finished: true });
    const view = (await (await call("GET", `/v1/generations/${jobId}`)).json()) as Record<string, unknown>;
    expect(view.text).toBe(TEXT.join(""));
    expect(view.progress).toEqual({ blocks: 4, tokens: expect.any(Number), text_bytes: bytes(TEXT.join("")) });
    expect((view.urls as Record<string, string>).text).toBe(`https://edge.test/v1/generations/${jobId}/text`);
  });
});
