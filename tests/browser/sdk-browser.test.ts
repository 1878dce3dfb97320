/**
 * Issue 16, item 1: the built SDK (`sdk/dist/index.js`, as `npm run -w sdk build` makes it) in headless Chromium,
 * imported as the plain ES module it ships as (zod through an import map, nothing else). The test page is put at
 * the edge's origin with `page.route` (the edge sends no CORS headers on /v1), so the SDK's requests go to the
 * real local edge, same-origin. In the page: a generation created, run by a real in-process worker, waited for,
 * streamed over the real SSE route, got and listed; the edge's real webhook delivery for it verified with Web
 * Crypto; and the SSE parser on a fixed stream and on the edge's own stream bytes, cut into awkward chunks.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { promisify } from "node:util";
import type * as SdkModule from "@bd3-serve/sdk";
import { SseParser } from "@bd3-serve/sdk";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useStackFixture } from "../support/hooks.ts";
import { API_KEY, getJob, MODEL_NAME, REPO_ROOT, stackAddresses } from "../support/stack.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The test page's own path on the edge's origin: requests under it never reach the edge. */
const PAGE_PREFIX = "/__bd3-sdk-browser-test";
const ZOD_DIR = join(REPO_ROOT, "node_modules/zod");

type Sdk = typeof SdkModule;
/** What the page's module puts on globalThis (the tests project has no DOM types). */
type PageGlobals = { bd3: Sdk; location: { origin: string } };

const fixture = useStackFixture({ slowEdge: false });
const run = promisify(execFile);

/** A stream with what a parser must get right: BOM, CRLF and lone CR, comments, retry, id carried over, multi-line
 * data, non-ASCII, an empty data line, a field without a colon, an unknown field, a NUL id (ignored) and an
 * unterminated event at the end (dropped). */
const FIXED_STREAM = [
  "\uFEFF: hello\r\n",
  "retry: 2500\r\n",
  'id: 1\r\nevent: block\r\ndata: {"index":0}\r\n\r\n',
  "data: line one\rdata:line two\r\r",
  ": keep-alive\n\n",
  "id: 7\nevent: done\ndata: é € 😀 日本\nunknown: x\n\n",
  "id: bad\0id\ndata\n\n",
  "event: partial\ndata: never dispatched",
].join("");
const FIXED_ITEMS: SdkModule.SseItem[] = [
  { kind: "comment", text: "hello" },
  { kind: "retry", ms: 2500 },
  { kind: "event", event: "block", data: '{"index":0}', id: "1" },
  { kind: "event", event: "message", data: "line one\nline two", id: "1" },
  { kind: "comment", text: "keep-alive" },
  { kind: "event", event: "done", data: "é € 😀 日本", id: "7" },
  { kind: "event", event: "message", data: "", id: "7" },
];

function parseWhole(text: string): SdkModule.SseItem[] {
  const parser = new SseParser();
  const items = parser.push(text);
  parser.end();
  return items;
}

let work: string;
let dist: string;
let browser: Browser;
let page: Page;
let receiver: WebhookReceiver;
const pageErrors: string[] = [];

/** Files of the page, the built SDK and zod's ES modules, for `page.route`. */
function pageFile(pathname: string): { body: Buffer | string; contentType: string } | null {
  const rest = pathname.slice(PAGE_PREFIX.length);
  if (rest === "/" || rest === "/index.html") {
    const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>bd3 SDK</title>
<script type="importmap">{"imports":{"zod":"${PAGE_PREFIX}/zod/index.js"}}</script>
<script type="module">
import * as bd3 from "${PAGE_PREFIX}/sdk/index.js";
globalThis.bd3 = bd3;
</script></head><body></body></html>`;
    return { body: html, contentType: "text/html; charset=utf-8" };
  }
  const [, root, file] = /^\/(sdk|zod)\/(.+)$/.exec(rest) ?? [];
  if (root === undefined || file === undefined) return null;
  const base = root === "sdk" ? dist : ZOD_DIR;
  const path = normalize(join(base, file));
  if (!path.startsWith(base) || !existsSync(path) || extname(path) !== ".js") return null;
  return { body: readFileSync(path), contentType: "text/javascript; charset=utf-8" };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install chromium (or set CHROMIUM_PATH)`);
  }
  work = mkdtempSync(join(tmpdir(), "bd3-sdk-browser-"));
  dist = join(work, "dist");
  const [launched, hooks] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM_PATH }),
    startWebhookReceiver(),
    run(process.execPath, ["--import", "tsx", join(REPO_ROOT, "sdk/scripts/build.ts"), "--out-dir", dist], {
      cwd: REPO_ROOT,
    }),
  ]);
  browser = launched;
  receiver = hooks;

  const { edgeUrl } = stackAddresses();
  page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    // Chromium logs every 4xx answer as "Failed to load resource"; the 404 below is on purpose.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      pageErrors.push(message.text());
  });
  await page.route(`${edgeUrl}${PAGE_PREFIX}/**`, (route) => {
    const file = pageFile(new URL(route.request().url()).pathname);
    if (file === null) return route.fulfill({ status: 404, body: "not found" });
    return route.fulfill({ status: 200, contentType: file.contentType, body: file.body });
  });
  await page.goto(`${edgeUrl}${PAGE_PREFIX}/`);
  await page.waitForFunction(() => "bd3" in globalThis, null, { timeout: 10_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the built SDK in Chromium", () => {
  let jobId: string;

  it("creates, waits for, streams, gets and lists a generation on the real edge, same-origin", async () => {
    await fixture.startInProcessWorker();
    const result = await page.evaluate(
      async ({ apiKey, model, webhookUrl }) => {
        const { bd3, location } = globalThis as unknown as PageGlobals;
        const client = new bd3.Bd3Client({ baseUrl: location.origin, apiKey });
        const created = await client.createGeneration({
          model,
          prompt: "In the beginning God created the heaven and the earth.",
          max_tokens: 64,
          seed: 1,
          webhook: { url: webhookUrl, events: ["generation.completed"] },
        });
        const finished = await client.wait(created.id, { timeoutMs: 60_000 });
        const indexes: number[] = [];
        let streamed = "";
        let doneStatus = "";
        for await (const event of client.stream(created.id)) {
          if (event.type === "block") {
            indexes.push(event.block.index);
            streamed += event.block.text;
          } else doneStatus = event.generation.status;
        }
        const got = await client.get(created.id);
        const listed: string[] = [];
        for await (const summary of client.list({ limit: 2 })) {
          listed.push(summary.id);
          if (summary.id === created.id) break;
        }
        const missing = await client.get("gen_missing").then(
          () => "found",
          (error: unknown) =>
            error instanceof bd3.NotFoundError ? `${error.name} ${error.status} ${error.type}` : String(error),
        );
        return {
          id: created.id,
          createdStatus: created.status,
          finished,
          indexes,
          streamed,
          doneStatus,
          got,
          listed,
          missing,
        };
      },
      { apiKey: API_KEY, model: MODEL_NAME, webhookUrl: receiver.url },
    );
    jobId = result.id;
    expect(result.createdStatus).toBe("queued");
    expect(result.finished.status).toBe("succeeded");
    expect(result.indexes.length).toBeGreaterThan(0);
    expect(result.indexes).toEqual(result.indexes.map((_, index) => index));
    expect(result.indexes).toHaveLength(result.finished.progress.blocks);
    expect(result.streamed).toBe(result.finished.text);
    expect(result.doneStatus).toBe("succeeded");
    expect(result.got).toEqual(await getJob(jobId));
    expect(result.listed).toContain(jobId);
    expect(result.missing).toBe("NotFoundError 404 not_found_error");
    expect(pageErrors).toEqual([]);
  });

  it("verifies the edge's real webhook delivery with Web Crypto, and refuses a tampered one", async () => {
    const delivery = await receiver.next((received) => received.body.includes(jobId));
    const secretView = (await (
      await fetch(`${stackAddresses().edgeUrl}/v1/webhook-secret`, { headers: { Authorization: `Bearer ${API_KEY}` } })
    ).json()) as { secret: string; previous: { secret: string } | null };
    const secrets = [secretView.secret, ...(secretView.previous === null ? [] : [secretView.previous.secret])];
    const result = await page.evaluate(
      async ({ payload, headers, secrets }) => {
        const { bd3 } = globalThis as unknown as PageGlobals;
        const refusal = (promise: Promise<unknown>) =>
          promise.then(
            () => "accepted",
            (error: unknown) => (error instanceof bd3.WebhookVerificationError ? error.code : String(error)),
          );
        const event = await bd3.verifyWebhook({ payload, headers, secret: secrets });
        const bytes = new TextEncoder().encode(payload);
        const fromBytes = await bd3.verifyWebhook({ payload: bytes, headers: new Headers(headers), secret: secrets });
        return {
          type: event.type,
          id: event.type === "generation.block" ? null : event.data.id,
          status: event.type === "generation.block" ? null : event.data.status,
          sameFromBytes: JSON.stringify(fromBytes) === JSON.stringify(event),
          tampered: await refusal(
            bd3.verifyWebhook({ payload: payload.replace("succeeded", "failed"), headers, secret: secrets }),
          ),
          wrongSecret: await refusal(
            bd3.verifyWebhook({ payload, headers, secret: "whsec_c2VjcmV0LXRoYXQtaXMtd3Jvbmc=" }),
          ),
          late: await refusal(bd3.verifyWebhook({ payload, headers, secret: secrets, now: Date.now() + 3_600_000 })),
        };
      },
      { payload: delivery.body, headers: delivery.headers, secrets },
    );
    expect(result).toEqual({
      type: "generation.completed",
      id: jobId,
      status: "succeeded",
      sameFromBytes: true,
      tampered: "no_matching_signature",
      wrongSecret: "no_matching_signature",
      late: "timestamp_too_old",
    });
    expect(pageErrors).toEqual([]);
  });

  it("parses a fixed SSE stream and the edge's own stream bytes in any chunking, as Node parses them", async () => {
    const response = await fetch(`${stackAddresses().edgeUrl}/v1/generations/${jobId}/stream`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
      signal: AbortSignal.timeout(30_000),
    });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const edgeBytes = [...new Uint8Array(await response.arrayBuffer())];
    expect(parseWhole(FIXED_STREAM)).toEqual(FIXED_ITEMS);
    const edgeItems = parseWhole(new TextDecoder().decode(new Uint8Array(edgeBytes)));
    expect(edgeItems.filter((item) => item.kind === "event").map((item) => item.event)).toContain("done");

    const result = await page.evaluate(
      async ({ fixed, edgeBytes }) => {
        const { bd3 } = globalThis as unknown as PageGlobals;
        const inTextChunks = (text: string, size: number) => {
          const parser = new bd3.SseParser();
          const items: SdkModule.SseItem[] = [];
          for (let start = 0; start < text.length; start += size)
            items.push(...parser.push(text.slice(start, start + size)));
          parser.end();
          return items;
        };
        // readSse over a body cut every `size` bytes: UTF-8 characters and CRLFs split across chunks.
        const inByteChunks = async (bytes: number[], size: number) => {
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let start = 0; start < bytes.length; start += size)
                controller.enqueue(new Uint8Array(bytes.slice(start, start + size)));
              controller.close();
            },
          });
          const items: SdkModule.SseItem[] = [];
          for await (const item of bd3.readSse(body)) items.push(item);
          return items;
        };
        const fixedBytes = [...new TextEncoder().encode(fixed)];
        return {
          fixed: [
            inTextChunks(fixed, 1),
            inTextChunks(fixed, 7),
            await inByteChunks(fixedBytes, 1),
            await inByteChunks(fixedBytes, 5),
          ],
          edge: [
            await inByteChunks(edgeBytes, 1),
            await inByteChunks(edgeBytes, 3),
            await inByteChunks(edgeBytes, 4096),
          ],
        };
      },
      { fixed: FIXED_STREAM, edgeBytes },
    );
    for (const items of result.fixed) expect(items).toEqual(FIXED_ITEMS);
    for (const items of result.edge) expect(items).toEqual(edgeItems);
    expect(pageErrors).toEqual([]);
  });
});
