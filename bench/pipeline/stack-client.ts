/**
 * The edge's public API as a client sees it, for the pipeline bench: create a generation, follow it with the
 * SSE stream until its `done` event (timestamping every block as it arrives), read it back.
 *
 * Why SSE rather than polling: one request per job keeps the bench far below the API key's rate limit (600
 * requests a minute in wrangler.toml) however many jobs run, and a block's arrival time is when the edge
 * pushed it, not when the next poll happened to look. A stream that ends without `done` (the edge drops slow
 * readers, or an eviction) is reopened with `Last-Event-ID`, so no block is missed or counted twice.
 */
import type { Block, JobSummary, JobView } from "@bd3-serve/shared";
import { sseEvents } from "../../scripts/sse-events.ts";

/** The local development key of wrangler.toml (only its SHA-256 is configured there). */
export const DEV_API_KEY = "bd3_dev_0123456789abcdef0123456789abcdef";

const HEADERS = { authorization: `Bearer ${DEV_API_KEY}`, "content-type": "application/json" };
/** Attempts of one API call answered 429 / 5xx or failing on the network (the edge runs on a busy host). */
const API_MAX_ATTEMPTS = 5;

export interface CreateBody {
  prompt: string;
  model: string;
  max_tokens: number;
  seed: number;
  strategy?: "first_hitting" | "ddpm" | "confidence";
  steps_per_block?: number;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function api<T>(edgeUrl: string, path: string, init: RequestInit = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let status = 0;
    let text = "";
    try {
      const reply = await fetch(new URL(path, edgeUrl), { ...init, headers: { ...HEADERS, ...init.headers } });
      status = reply.status;
      text = await reply.text();
      if (status >= 200 && status < 300) return JSON.parse(text) as T;
      if (status !== 429 && status < 500) throw new Error(`${init.method ?? "GET"} ${path}: ${status} ${text}`);
    } catch (error) {
      if (status !== 0 || attempt >= API_MAX_ATTEMPTS) throw error;
    }
    if (attempt >= API_MAX_ATTEMPTS) throw new Error(`${init.method ?? "GET"} ${path}: ${status} ${text}`);
    await sleep(250 * 2 ** attempt);
  }
}

export function createGeneration(edgeUrl: string, body: CreateBody): Promise<JobView> {
  return api<JobView>(edgeUrl, "/v1/generations", { method: "POST", body: JSON.stringify(body) });
}

export function getGeneration(edgeUrl: string, id: string): Promise<JobView> {
  return api<JobView>(edgeUrl, `/v1/generations/${id}`);
}

export interface FollowResult {
  /** `performance.now()` when the `done` event arrived. */
  doneAtMs: number;
  summary: JobSummary;
  /** Arrival time (`performance.now()`) of each block, by block index. */
  blockArrivalsMs: Map<number, number>;
  /**
   * The document as the client received it: every block's text in index order. Read from the stream rather
   * than the job view, whose inline `text` a protocol may leave out for long documents.
   */
  text: string;
  /** Streams opened (1 unless the edge dropped the stream and it was resumed). */
  streams: number;
}

export interface FollowOptions {
  /** Called with each block as it arrives (once per index). */
  onBlock?: (block: Block, atMs: number) => void;
  /** Give up after this long without `done`. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Follows a job's SSE stream until `done`; resumes a dropped stream after the last block seen. */
export async function followGeneration(edgeUrl: string, job: JobView, options: FollowOptions): Promise<FollowResult> {
  const deadlineMs = performance.now() + options.timeoutMs;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const blockArrivalsMs = new Map<number, number>();
  const blockTexts = new Map<number, string>();
  let lastIndex = -1;
  let streams = 0;
  for (;;) {
    if (performance.now() > deadlineMs) throw new Error(`job ${job.id}: no done event in ${options.timeoutMs} ms`);
    streams += 1;
    const headers: Record<string, string> = { ...HEADERS, accept: "text/event-stream" };
    if (lastIndex >= 0) headers["last-event-id"] = String(lastIndex);
    const response = await fetch(new URL(job.urls.stream, edgeUrl), { headers, signal });
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      await sleep(500);
      continue;
    }
    if (response.status !== 200 || response.body === null)
      throw new Error(`job ${job.id}: stream answered ${response.status} ${await response.text()}`);
    for await (const event of sseEvents(response.body)) {
      const atMs = performance.now();
      if (event.event === "done") {
        await response.body.cancel().catch(() => {});
        const text = [...blockTexts]
          .sort(([a], [b]) => a - b)
          .map(([, blockText]) => blockText)
          .join("");
        const summary = JSON.parse(event.data) as JobSummary;
        return { doneAtMs: atMs, summary, blockArrivalsMs, text, streams };
      }
      if (event.event !== "block") continue;
      const block = JSON.parse(event.data) as Block;
      if (blockArrivalsMs.has(block.index)) continue;
      blockArrivalsMs.set(block.index, atMs);
      blockTexts.set(block.index, block.text);
      lastIndex = Math.max(lastIndex, block.index);
      options.onBlock?.(block, atMs);
    }
    // The stream ended without `done`: reopen it after the last block seen (Last-Event-ID).
  }
}
