/**
 * Issue 16, item 5: the playground (edge/public/, served by the edge as Workers static assets) in headless
 * Chromium against the whole local stack with an in-process worker. It generates and shows blocks live,
 * survives a reload mid-stream (the committed blocks from `/blocks`, then the stream with Last-Event-ID, no
 * block twice, the text equal to the API's), cancels a job, and shows API errors in words. The worker's
 * appends go through the slow edge so a job is surely still running when the page reloads.
 *
 * Needs Chromium (Debian's `chromium`, installed by .ci/run; CHROMIUM_PATH to use another binary).
 * PLAYGROUND_SCREENSHOT=<path> also writes a screenshot taken mid-generation (docs/playground.png is one):
 *   PLAYGROUND_SCREENSHOT=docs/playground.png npm run test:browser
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { useStackFixture } from "../support/hooks.ts";
import { type SlowEdge, startSlowEdge } from "../support/slow-edge.ts";
import {
  API_KEY,
  cancelJob,
  findLongSeed,
  getJob,
  LONG_JOB_MIN_BLOCKS,
  longJobTokens,
  REPO_ROOT,
  stackAddresses,
  waitForJob,
} from "../support/stack.ts";
import {
  expectPageMatchesApi,
  fillForm,
  jobIdOf,
  PROMPT,
  renderedIndexes,
  waitForBlocks,
  waitForStatus,
  watchTraffic,
} from "./playground-page.ts";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Per-block delay of the worker's appends: a long job (>= LONG_JOB_MIN_BLOCKS blocks) runs for seconds. */
const APPEND_DELAY_MS = 150;
/** Blocks on the page before it reloads. */
const RELOAD_AT_BLOCKS = 4;
/** Blocks on the page when the screenshot is taken (only with PLAYGROUND_SCREENSHOT). */
const SCREENSHOT_AT_BLOCKS = 12;

const fixture = useStackFixture({ slowEdge: false });

describe("the playground", () => {
  let browser: Browser;
  let context: BrowserContext | undefined;
  let slowEdge: SlowEdge;
  let seed: number;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM_PATH)) {
      throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install chromium (or set CHROMIUM_PATH)`);
    }
    const [launched, edge, longSeed] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM_PATH }),
      startSlowEdge({ target: stackAddresses().edgeUrl, appendDelayMs: APPEND_DELAY_MS }),
      findLongSeed(PROMPT),
    ]);
    browser = launched;
    slowEdge = edge;
    seed = longSeed;
  });
  afterAll(async () => {
    await browser?.close();
    await slowEdge?.close();
  });

  let pageErrors: string[] = [];
  async function openPlayground(): Promise<Page> {
    const opened = await browser.newContext({ viewport: { width: 1100, height: 860 } });
    context = opened;
    const page = await opened.newPage();
    pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      // Chromium logs every 4xx answer as "Failed to load resource"; the error cases below cause some on purpose.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
        pageErrors.push(message.text());
    });
    return page;
  }
  // Runs before the fixture stops the worker (hooks run in reverse): a job a failed test left running is
  // canceled first, so the worker stops at once.
  afterEach(async () => {
    const page = context?.pages()[0];
    const id = page === undefined ? null : new URLSearchParams(new URL(page.url()).hash.slice(1)).get("job");
    if (id !== null) await cancelJob(id).catch(() => {});
    await context?.close();
    context = undefined;
  });

  it("is served at / as static assets with a CSP, and the API paths still reach the Worker", async () => {
    const { edgeUrl } = stackAddresses();
    const index = await fetch(`${edgeUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = index.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await index.text();
    expect(html).toContain('<script type="module" src="/playground.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    for (const asset of ["/playground.js", "/playground.css", "/favicon.svg"])
      expect((await fetch(`${edgeUrl}${asset}`)).status).toBe(200);

    const health = await fetch(`${edgeUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    expect((await fetch(`${edgeUrl}/openapi.json`)).headers.get("content-type")).toMatch(/json/);
    const unauthenticated = await fetch(`${edgeUrl}/v1/generations`);
    expect(unauthenticated.status).toBe(401);
    expect(((await unauthenticated.json()) as { error: { type: string } }).error.type).toBe("authentication_error");
    const unknown = await fetch(`${edgeUrl}/no-such-page`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { type: string } }).error.type).toBe("not_found_error");
    expect((await fetch(`${edgeUrl}/_headers`)).status).toBe(404);
  });

  it("shows API errors in words", async () => {
    const page = await openPlayground();
    await page.goto(`${stackAddresses().edgeUrl}/`);
    await fillForm(page, { key: "bd3_not_a_real_key_0000000000000000", maxTokens: 64, seed: 1 });
    await page.click("#generate");
    await expect.poll(() => page.textContent("#error")).toMatch(/^Authentication failed: .+HTTP 401/);

    await page.fill("#api-key", API_KEY);
    await page.fill("#max-tokens", "0");
    await page.click("#generate");
    await expect.poll(() => page.textContent("#error")).toMatch(/^Invalid request: .*field: max_tokens.*HTTP 400/);
    expect(page.url()).not.toContain("#job=");
    expect(pageErrors).toEqual([]);
  });

  it("streams a job live and resumes it after a reload with no block twice", async () => {
    await fixture.startInProcessWorker({ EDGE_URL: slowEdge.url });
    const page = await openPlayground();
    const traffic = watchTraffic(page);
    await page.goto(`${stackAddresses().edgeUrl}/`);
    await fillForm(page, { maxTokens: longJobTokens(), seed });
    await page.click("#generate");

    await waitForBlocks(page, RELOAD_AT_BLOCKS);
    const id = jobIdOf(page);
    expect(traffic.idempotencyKeys).toHaveLength(1);
    expect(traffic.idempotencyKeys[0]).toMatch(/^[\x21-\x7e]{8,}$/);
    await page.hover('#output .block[data-index="1"]');
    expect(await page.textContent("#hovered")).toMatch(/^#1 · \d+ tokens$/);
    expect(await page.getAttribute('#output .block[data-index="1"]', "title")).toMatch(/^block 1 · /);

    // Reload while the job is surely running: it has at least LONG_JOB_MIN_BLOCKS blocks to go through.
    const beforeReload = await getJob(id);
    expect(beforeReload.status).toBe("running");
    expect(beforeReload.progress.blocks).toBeLessThan(LONG_JOB_MIN_BLOCKS - 4);
    const shownBeforeReload = (await renderedIndexes(page)).length;
    const streamsBeforeReload = traffic.streamResumes.length;
    await page.reload();
    expect(jobIdOf(page)).toBe(id);
    expect(await page.inputValue("#api-key")).toBe(API_KEY);

    if (process.env.PLAYGROUND_SCREENSHOT) {
      await waitForBlocks(page, SCREENSHOT_AT_BLOCKS);
      await page.screenshot({ path: resolve(REPO_ROOT, process.env.PLAYGROUND_SCREENSHOT) });
    }
    await waitForStatus(page, ["succeeded", "failed", "canceled", "expired"]);
    const finished = await waitForJob(id, (job) => job.finished_at !== null, "the job to finish");
    expect(finished.status).toBe("succeeded");
    expect(await page.getAttribute("#status", "data-status")).toBe("succeeded");
    await expectPageMatchesApi(page, finished);
    expect(finished.progress.blocks).toBeGreaterThan(beforeReload.progress.blocks);

    // After the reload the page read the committed blocks, then resumed the stream after the last one.
    const resumes = traffic.streamResumes.slice(streamsBeforeReload);
    expect(resumes.length).toBeGreaterThan(0);
    expect(Number(resumes[0])).toBeGreaterThanOrEqual(shownBeforeReload - 1);
    expect(traffic.urls.some((url) => url.includes(`/v1/generations/${id}/blocks?after=-1`))).toBe(true);
    // The key never travels in a URL.
    for (const url of [...traffic.urls, page.url()]) expect(url).not.toContain(API_KEY);
    expect(traffic.failures).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("cancels a running job", async () => {
    await fixture.startInProcessWorker({ EDGE_URL: slowEdge.url });
    const page = await openPlayground();
    await page.goto(`${stackAddresses().edgeUrl}/`);
    await fillForm(page, { maxTokens: longJobTokens(), seed });
    expect(await page.isDisabled("#cancel")).toBe(true);
    await page.click("#generate");
    await waitForBlocks(page, 2);
    expect(await page.isDisabled("#cancel")).toBe(false);
    await page.click("#cancel");

    await waitForStatus(page, ["canceled"]);
    const canceled = await getJob(jobIdOf(page));
    expect(canceled.status).toBe("canceled");
    expect(canceled.progress.blocks).toBeLessThan(LONG_JOB_MIN_BLOCKS);
    expect(await page.textContent("#status")).toBe("canceled");
    expect(await page.isDisabled("#cancel")).toBe(true);
    await expectPageMatchesApi(page, canceled);
    expect(pageErrors).toEqual([]);
  });
});
