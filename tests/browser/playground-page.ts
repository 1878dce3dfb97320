/**
 * What the playground tests read and do on the page (headless Chromium through playwright-core): the rendered
 * blocks and text, waiting for blocks or a status, the job id in the URL, the page's requests, filling the
 * form, and comparing the page with the API's view of the job. Stateless helpers over a playwright `Page`.
 */
import type { JobView } from "@bd3-serve/shared";
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { API_KEY, getBlocks, MODEL_NAME } from "../support/stack.ts";

export const PROMPT = "In the beginning God created the heaven and the earth.";
/** How long the page may take to show what a check waits for. */
export const UI_TIMEOUT_MS = 60_000;

/**
 * The little of the DOM these checks read. They run in the page as functions, never as strings: the page's CSP
 * (script-src 'self', no 'unsafe-eval') refuses string evaluation, and the tests project has no DOM types.
 */
export interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
export interface PageDocument {
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  getElementById(id: string): PageElement | null;
}

/** Every block on the page, in page order, by index. */
export function renderedIndexes(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: PageDocument }).document;
    return Array.from(doc.querySelectorAll("#output .block"), (block) => Number(block.dataset.index));
  });
}

export function renderedText(page: Page): Promise<string | null> {
  return page.evaluate(
    () => (globalThis as unknown as { document: PageDocument }).document.getElementById("output")?.textContent ?? null,
  );
}

export function waitForBlocks(page: Page, count: number): Promise<unknown> {
  return page.waitForFunction(
    (atLeast) =>
      (globalThis as unknown as { document: PageDocument }).document.querySelectorAll("#output .block").length >=
      atLeast,
    count,
    { timeout: UI_TIMEOUT_MS },
  );
}

export function waitForStatus(page: Page, statuses: string[]): Promise<unknown> {
  return page.waitForFunction(
    (wanted) => {
      const status = (globalThis as unknown as { document: PageDocument }).document.getElementById("status");
      return wanted.includes(status?.dataset.status ?? "");
    },
    statuses,
    { timeout: UI_TIMEOUT_MS },
  );
}

export function jobIdOf(page: Page): string {
  const id = new URLSearchParams(new URL(page.url()).hash.slice(1)).get("job");
  if (id === null) throw new Error(`no job id in the page's URL ${page.url()}`);
  return id;
}

export interface Traffic {
  /** Every URL the page requested (the API key must be in none). */
  urls: string[];
  /** Last-Event-ID of each stream request, in order ("" when the request had none). */
  streamResumes: string[];
  /** Idempotency-Key of each create. */
  idempotencyKeys: string[];
  /** Answers of 400 and above, as "<status> <url>". */
  failures: string[];
}

export function watchTraffic(page: Page): Traffic {
  const traffic: Traffic = { urls: [], streamResumes: [], idempotencyKeys: [], failures: [] };
  page.on("response", (response) => {
    if (response.status() >= 400) traffic.failures.push(`${response.status()} ${response.url()}`);
  });
  page.on("request", (request) => {
    traffic.urls.push(request.url());
    const { pathname } = new URL(request.url());
    const headers = request.headers();
    if (pathname.endsWith("/stream")) traffic.streamResumes.push(headers["last-event-id"] ?? "");
    if (pathname === "/v1/generations" && request.method() === "POST")
      traffic.idempotencyKeys.push(headers["idempotency-key"] ?? "");
  });
  return traffic;
}

export async function fillForm(page: Page, options: { key?: string; maxTokens: number; seed: number }): Promise<void> {
  await page.fill("#api-key", options.key ?? API_KEY);
  await page.fill("#prompt", PROMPT);
  await page.fill("#max-tokens", String(options.maxTokens));
  await page.selectOption("#strategy", "first_hitting");
  await page.fill("#seed", String(options.seed));
  await page.fill("#model", MODEL_NAME);
}

/** The page shows the job exactly as the API has it: blocks 0..n-1 once each, and the same text. */
export async function expectPageMatchesApi(page: Page, job: JobView): Promise<void> {
  const indexes = await renderedIndexes(page);
  expect(indexes).toEqual(Array.from({ length: job.progress.blocks }, (_, index) => index));
  expect((await getBlocks(job.id)).map((block) => block.index)).toEqual(indexes);
  expect(job.text).not.toBeNull();
  expect(await renderedText(page)).toBe(job.text);
  expect(await page.textContent("#blocks")).toBe(String(job.progress.blocks));
  expect(await page.textContent("#tokens")).toBe(String(job.progress.tokens));
}
