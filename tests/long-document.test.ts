/**
 * A document of more than 64 MiB of multi-byte UTF-8 through the whole stack: written by a stand-in worker
 * through the real queue message, lease and block stream (support/synthetic-writer.ts), stored by the edge
 * in Miniflare, and read back every way a client can: the Durable Streams client (catch-up, a resume from an
 * offset taken mid-read, long-poll and SSE tails that end with the job), the paged text read, the SSE block
 * stream from the start and from the middle, and the webhook, whose signed payload links to the text.
 */
import { createHmac } from "node:crypto";
import type { BlockRecord, JobView } from "@bd3-serve/shared";
import { stream } from "@durable-streams/client";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sseEvents } from "../scripts/sse-events.ts";
import { API_KEY, getJob, purgeQueues, stackAddresses } from "./support/stack.ts";
import { finishJob, openWriter, type SyntheticJob, takeJob, writeBlocks } from "./support/synthetic-writer.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";

/** The document must be longer than this (the size issue 15 and 22 ask the stack to handle). */
const DOCUMENT_MIN_BYTES = 64 * 1024 * 1024;
/** One block's text: 1-, 2-, 3- and 4-byte characters, just under the 64 KiB block limit. */
const PATTERN_UNIT = "In the beginning é € 😀 ñ 日本 ";
const BLOCK_PATTERN = PATTERN_UNIT.repeat(Math.floor(64_000 / Buffer.byteLength(PATTERN_UNIT)));
const PATTERN_BYTES = Buffer.byteLength(BLOCK_PATTERN);
const NUM_BLOCKS = Math.ceil(DOCUMENT_MIN_BYTES / PATTERN_BYTES) + 1;
const TOKENS_PER_BLOCK = 64;
/** The dev key's tenant and the dev webhook master secret of wrangler.toml's top level. */
const TENANT = "tenant_dev";
const WEBHOOK_MASTER_SECRET = "dev-webhook-signing-secret-not-for-production";

function blockText(index: number): string {
  return `[block ${index}] ${BLOCK_PATTERN}`;
}

function* blocks(from: number, to: number): Generator<BlockRecord> {
  for (let index = from; index < to; index++) {
    const tokenIds = Array.from({ length: TOKENS_PER_BLOCK }, (_, i) => (index * 7 + i) % 50_000);
    yield { index, text: blockText(index), token_ids: tokenIds };
  }
}

const auth = { Authorization: `Bearer ${API_KEY}` };
const expected = Buffer.from(Array.from({ length: NUM_BLOCKS }, (_, index) => blockText(index)).join(""), "utf8");

/** Where the tails start reading: the document's tail offset after the first half was written. */
let midOffset = "";
let job: JobView;
let receiver: WebhookReceiver;
let liveTails: Promise<{ longPoll: Buffer; sse: Buffer }>;

function textUrl(): string {
  return job.urls.text;
}

async function readTail(live: "long-poll" | "sse", offset: string): Promise<Buffer> {
  const response = await stream({ url: textUrl(), headers: auth, offset, live });
  const parts: Buffer[] = [];
  for await (const chunk of response.bodyStream()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

beforeAll(async () => {
  await purgeQueues();
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await receiver?.close();
});

describe(`a ${Math.round(DOCUMENT_MIN_BYTES / 2 ** 20)} MiB document`, () => {
  it("is written through the block stream while two live tails follow it to the end", async () => {
    const created = await fetch(`${stackAddresses().edgeUrl}/v1/generations`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({
        prompt: "In the beginning",
        max_tokens: 1_048_576,
        webhook: { url: receiver.url, events: ["generation.completed"] },
      }),
    });
    expect(created.status).toBe(202);
    job = (await created.json()) as JobView;
    const taken: SyntheticJob = await takeJob(job.id);
    const writer = openWriter(taken);
    const half = Math.floor(NUM_BLOCKS / 2);
    await writeBlocks(writer, blocks(0, half));
    const head = await fetch(textUrl(), { method: "HEAD", headers: auth });
    midOffset = head.headers.get("Stream-Next-Offset") ?? "";
    expect(midOffset).not.toBe("");
    liveTails = Promise.all([readTail("long-poll", midOffset), readTail("sse", midOffset)]).then(([longPoll, sse]) => ({
      longPoll,
      sse,
    }));
    await writeBlocks(writer, blocks(half, NUM_BLOCKS));
    await finishJob(taken, NUM_BLOCKS * TOKENS_PER_BLOCK);
    const tails = await liveTails;
    const suffix = expected.subarray(Buffer.byteLength(blocksText(0, half)));
    expect(tails.longPoll.equals(suffix)).toBe(true);
    expect(tails.sse.equals(suffix)).toBe(true);
    const view = await getJob(job.id);
    expect(view).toMatchObject({ status: "succeeded", text: null, progress: { blocks: NUM_BLOCKS } });
    expect(view.progress.text_bytes).toBe(expected.byteLength);
  }, 600_000);

  it("reads back byte-exact with @durable-streams/client, and resumes byte-exact from an offset taken mid-read", async () => {
    // The client's default live mode reads page after page until it is up to date. (`live: false` would stop
    // after the first response: client 0.2.7 expects a server to answer the whole catch-up at once.)
    const whole = await stream({ url: textUrl(), headers: auth, offset: "-1" });
    const body = Buffer.from(await whole.body());
    expect(body.byteLength).toBe(expected.byteLength);
    expect(body.equals(expected)).toBe(true);

    const partial = await stream({ url: textUrl(), headers: auth, offset: "-1" });
    let readBytes = 0;
    let resumeAt = "";
    const reader = partial.bodyStream().getReader();
    while (readBytes < expected.byteLength / 3) {
      const { value, done } = await reader.read();
      if (done) break;
      readBytes += value.byteLength;
      resumeAt = partial.offset;
    }
    // The client's own cancel ends its read cleanly (cancelling only the byte stream leaves it to fail).
    reader.releaseLock();
    partial.cancel();
    const resumed = await stream({ url: textUrl(), headers: auth, offset: resumeAt });
    const rest = Buffer.from(await resumed.body());
    expect(rest.equals(expected.subarray(expected.byteLength - rest.byteLength))).toBe(true);
    expect(rest.byteLength).toBeLessThan(expected.byteLength);
  }, 300_000);

  it("pages through the text read with offsets, each page bounded, with no gap, then answers 304 for history", async () => {
    const pages: Buffer[] = [];
    let offset = "-1";
    let firstEtag = "";
    const maxPages = Math.ceil(expected.byteLength / (512 * 1024));
    for (let page = 0; page < maxPages; page++) {
      const response = await fetch(`${textUrl()}?offset=${offset}`, { headers: auth });
      expect(response.status).toBe(200);
      const page = Buffer.from(await response.arrayBuffer());
      expect(page.byteLength).toBeLessThanOrEqual(1024 * 1024 + 128 * 1024);
      if (pages.length === 0) firstEtag = response.headers.get("ETag") ?? "";
      pages.push(page);
      offset = response.headers.get("Stream-Next-Offset") ?? "";
      if (response.headers.get("Stream-Closed") === "true") break;
      expect(page.byteLength).toBeGreaterThan(0);
    }
    expect(Buffer.concat(pages).equals(expected)).toBe(true);
    const again = await fetch(`${textUrl()}?offset=-1`, { headers: { ...auth, "If-None-Match": firstEtag } });
    expect(again.status).toBe(304);
  }, 300_000);

  it("streams every block by SSE from the start and from the middle (Last-Event-ID), done last", async () => {
    for (const lastEventId of [undefined, String(Math.floor(NUM_BLOCKS / 2))]) {
      const response = await fetch(job.urls.stream, {
        headers: { ...auth, ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}) },
      });
      const first = lastEventId === undefined ? 0 : Number(lastEventId) + 1;
      let next = first;
      let sawDone = false;
      for await (const event of sseEvents(response.body!)) {
        expect(sawDone).toBe(false);
        if (event.event === "done") {
          sawDone = true;
          expect(JSON.parse(event.data)).toMatchObject({ status: "succeeded" });
          continue;
        }
        const block = JSON.parse(event.data) as { index: number; text: string };
        expect(event.id).toBe(String(next));
        expect(block.index).toBe(next);
        expect(block.text).toBe(blockText(next));
        next++;
      }
      expect(sawDone).toBe(true);
      expect(next).toBe(NUM_BLOCKS);
    }
  }, 300_000);

  it("sends a signed webhook that leaves the text out and links to it", async () => {
    const delivery = await receiver.next((received) => received.body.includes(job.id));
    const secret = `whsec_${createHmac("sha256", WEBHOOK_MASTER_SECRET).update(`webhook-secret:${TENANT}`).digest("base64")}`;
    const event = new Webhook(secret).verify(delivery.body, delivery.headers) as { type: string; data: JobView };
    expect(event.type).toBe("generation.completed");
    expect(event.data.text).toBeNull();
    expect(event.data.progress.text_bytes).toBe(expected.byteLength);
    const head = await fetch(event.data.urls.text, { method: "HEAD", headers: auth });
    expect(head.headers.get("Stream-Closed")).toBe("true");
    expect(Number(head.headers.get("Stream-Next-Offset")?.split("_")[1])).toBe(expected.byteLength);
  }, 60_000);

  it("refuses bad reads with the protocol's 4xx: a malformed offset, one past the tail, a tenant's write", async () => {
    const malformed = await fetch(`${textUrl()}?offset=not-an-offset`, { headers: auth });
    expect(malformed.status).toBe(400);
    const pastTail = await fetch(
      `${textUrl()}?offset=0000000000000000_${String(expected.byteLength + 1).padStart(16, "0")}`,
      {
        headers: auth,
      },
    );
    expect(pastTail.status).toBe(400);
    const write = await fetch(textUrl(), {
      method: "POST",
      headers: { ...auth, "Content-Type": "text/plain" },
      body: "x",
    });
    expect(write.status).toBe(405);
    const foreign = await fetch(textUrl(), { headers: { Authorization: "Bearer bd3_wrong_key" } });
    expect(foreign.status).toBe(401);
  });
});

function blocksText(from: number, to: number): string {
  let text = "";
  for (let index = from; index < to; index++) text += blockText(index);
  return text;
}
