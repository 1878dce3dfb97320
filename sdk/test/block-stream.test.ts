import type { Block } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { formatSseComment, formatSseEvent, formatSseRetry } from "../../edge/src/sse/framing.ts";
import { AbortError, NotFoundError, StreamProtocolError } from "../src/errors.ts";
import { Transport } from "../src/http/transport.ts";
import { type StreamEvent, type StreamOptions, streamBlocks } from "../src/stream/block-stream.ts";
import { apiError, fakeFetch, type Handler, jobSummary } from "./fake-fetch.ts";

const block = (index: number): Block => ({ index, text: `<${index}>`, token_count: 4 });
const blockFrame = (index: number) =>
  formatSseEvent({ id: String(index), event: "block", data: JSON.stringify(block(index)) });
const doneFrame = (blocks: number) =>
  formatSseEvent({
    event: "done",
    data: JSON.stringify(
      jobSummary({ status: "succeeded", progress: { blocks, tokens: 4 * blocks, text_bytes: 3 * blocks } }),
    ),
  });

/** An SSE answer: the frames, then a clean end, a dropped connection (`error`) or nothing more (`hang`). */
function sse(frames: string[], end: "close" | "error" | "hang" = "close"): Handler {
  return (request) => {
    const encoder = new TextEncoder();
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const frame = frames[next++];
        if (frame !== undefined) controller.enqueue(encoder.encode(frame));
        else if (end === "close") controller.close();
        else if (end === "error") controller.error(new TypeError("terminated"));
        else
          request.signal?.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
  };
}

function setup(script: Handler[], options: { repeatLast?: boolean } = {}) {
  const { fetch, requests } = fakeFetch(script, options);
  const sleeps: number[] = [];
  const transport = new Transport({
    baseUrl: "https://api.example.com",
    apiKey: "k",
    fetch,
    maxRetries: 3,
    timeoutMs: 1_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
  });
  return { transport, requests, sleeps };
}

async function collect(transport: Transport, options: StreamOptions = {}) {
  const events: StreamEvent[] = [];
  for await (const event of streamBlocks(transport, "gen_01HZX", options)) events.push(event);
  return events;
}

const indexes = (events: StreamEvent[]) =>
  events.flatMap((event) => (event.type === "block" ? [event.block.index] : []));

describe("streamBlocks", () => {
  it("yields every block once and ends with the done summary", async () => {
    const { transport, requests } = setup([
      sse([formatSseRetry(2_000), blockFrame(0), formatSseComment("keep-alive"), blockFrame(1), doneFrame(2)]),
    ]);
    const events = await collect(transport);
    expect(indexes(events)).toEqual([0, 1]);
    expect(events.at(-1)).toMatchObject({ type: "done", generation: { status: "succeeded" } });
    expect(requests[0]?.url.pathname).toBe("/v1/generations/gen_01HZX/stream");
    expect(requests[0]?.url.searchParams.get("after")).toBe("-1");
    expect(requests[0]?.headers.get("last-event-id")).toBeNull();
    expect(requests[0]?.headers.get("accept")).toBe("text/event-stream");
  });

  it("resumes after a dropped connection with Last-Event-ID, skipping the blocks it already gave", async () => {
    const { transport, requests, sleeps } = setup([
      sse([blockFrame(0), blockFrame(1)], "error"),
      // The server resends from after the id it was given; a replayed block 1 must not come out twice.
      sse([blockFrame(1), blockFrame(2), blockFrame(3), doneFrame(4)]),
    ]);
    const events = await collect(transport);
    expect(indexes(events)).toEqual([0, 1, 2, 3]);
    expect(requests[1]?.headers.get("last-event-id")).toBe("1");
    expect(requests[1]?.url.searchParams.get("after")).toBe("1");
    expect(sleeps).toEqual([]); // the dropped connection had delivered blocks: resume at once
  });

  it("reconnects when the body ends without done (the server's periodic close)", async () => {
    const { transport, requests } = setup([sse([blockFrame(0)]), sse([blockFrame(1), doneFrame(2)])]);
    expect(indexes(await collect(transport))).toEqual([0, 1]);
    expect(requests).toHaveLength(2);
  });

  it("backs off on 5xx and network errors, waiting Retry-After when given", async () => {
    const { transport, sleeps } = setup([
      () => apiError(503, "api_error", "busy", {}, { "retry-after": "4" }),
      () => {
        throw new TypeError("fetch failed");
      },
      () => apiError(429, "rate_limit_error", "too many live readers", { code: "stream_readers_per_job" }),
      sse([blockFrame(0), doneFrame(1)]),
    ]);
    expect(indexes(await collect(transport))).toEqual([0]);
    expect(sleeps).toEqual([4_000, 500, 1_000]);
  });

  it("never skips a block: a gap drops the connection and resumes from the last one given", async () => {
    const { transport, requests } = setup([
      sse([blockFrame(0), blockFrame(2)]),
      sse([blockFrame(1), blockFrame(2), doneFrame(3)]),
    ]);
    expect(indexes(await collect(transport))).toEqual([0, 1, 2]);
    expect(requests[1]?.headers.get("last-event-id")).toBe("0");
  });

  it("does not believe a done that counts more blocks than arrived", async () => {
    const { transport } = setup([sse([blockFrame(0), doneFrame(2)]), sse([blockFrame(1), doneFrame(2)])]);
    expect(indexes(await collect(transport))).toEqual([0, 1]);
  });

  it("starts after a given index", async () => {
    const { transport, requests } = setup([sse([blockFrame(5), blockFrame(6), doneFrame(7)])]);
    expect(indexes(await collect(transport, { after: 4 }))).toEqual([5, 6]);
    expect(requests[0]?.url.searchParams.get("after")).toBe("4");
  });

  it("reconnects a connection that went silent", async () => {
    const { transport } = setup([sse([blockFrame(0)], "hang"), sse([blockFrame(1), doneFrame(2)])]);
    expect(indexes(await collect(transport, { idleTimeoutMs: 30 }))).toEqual([0, 1]);
  });

  it("gives up with the last error after maxReconnects attempts without a block", async () => {
    const { transport, requests } = setup([sse([blockFrame(1)])], { repeatLast: true });
    await expect(collect(transport, { maxReconnects: 2 })).rejects.toBeInstanceOf(StreamProtocolError);
    expect(requests).toHaveLength(3);
  });

  it("refuses a block whose event id is not its index", async () => {
    const wrongId = formatSseEvent({ id: "9", event: "block", data: JSON.stringify(block(0)) });
    const { transport } = setup([sse([wrongId])], { repeatLast: true });
    await expect(collect(transport, { maxReconnects: 0 })).rejects.toThrow("event id '9'");
  });

  it("throws a 404 at once", async () => {
    const { transport, requests } = setup([() => apiError(404, "not_found_error", "no generation", { param: "id" })]);
    await expect(collect(transport)).rejects.toBeInstanceOf(NotFoundError);
    expect(requests).toHaveLength(1);
  });

  it("aborts the connection when the caller stops reading or aborts", async () => {
    const { transport, requests } = setup([sse([blockFrame(0), blockFrame(1)], "hang")]);
    for await (const event of streamBlocks(transport, "gen_01HZX")) {
      expect(event).toMatchObject({ type: "block", block: { index: 0 } });
      break;
    }
    expect(requests[0]?.signal?.aborted).toBe(true);

    const controller = new AbortController();
    const second = setup([sse([blockFrame(0)], "hang")]);
    const seen: number[] = [];
    const run = (async () => {
      for await (const event of streamBlocks(second.transport, "gen_01HZX", { signal: controller.signal })) {
        if (event.type === "block") {
          seen.push(event.block.index);
          setTimeout(() => controller.abort(), 5);
        }
      }
    })();
    await expect(run).rejects.toBeInstanceOf(AbortError);
    expect(seen).toEqual([0]);
  });

  it("reports each reconnect", async () => {
    const { transport } = setup([sse([blockFrame(0)], "error"), sse([blockFrame(1), doneFrame(2)])]);
    const reconnects: { after: number; delayMs: number }[] = [];
    await collect(transport, { onReconnect: ({ after, delayMs }) => reconnects.push({ after, delayMs }) });
    expect(reconnects).toEqual([{ after: 0, delayMs: 0 }]);
  });
});
