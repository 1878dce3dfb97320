import { describe, expect, it } from "vitest";
import { formatSseComment, formatSseEvent, formatSseRetry } from "../../edge/src/sse/framing.ts";
import { type SseItem, SseParser } from "../src/sse/parser.ts";
import { readSse } from "../src/sse/read-sse.ts";

function parseAll(chunks: string[]): SseItem[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

function bodyOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<SseItem[]> {
  const items: SseItem[] = [];
  for await (const item of readSse(body)) items.push(item);
  return items;
}

describe("SseParser", () => {
  it("parses what the edge frames: retry, blocks with ids, keep-alive comments, done without an id", () => {
    const text =
      formatSseRetry(2_000) +
      formatSseEvent({ id: "0", event: "block", data: '{"index":0}' }) +
      formatSseComment("keep-alive") +
      formatSseEvent({ id: "1", event: "block", data: '{"index":1}' }) +
      formatSseEvent({ event: "done", data: '{"status":"succeeded"}' });
    expect(parseAll([text])).toEqual([
      { kind: "retry", ms: 2_000 },
      { kind: "event", event: "block", data: '{"index":0}', id: "0" },
      { kind: "comment", text: "keep-alive" },
      { kind: "event", event: "block", data: '{"index":1}', id: "1" },
      // The last event id stays in force, as EventSource keeps it: done does not move the resume point.
      { kind: "event", event: "done", data: '{"status":"succeeded"}', id: "1" },
    ]);
  });

  it("gives the same events however the text is split, CRLF halves included", () => {
    const text = "id: 7\r\nevent: block\r\ndata: a\r\ndata: b\r\n\r\n: c\r\n\r\nevent: done\rdata: x\r\rdata:y\n\n";
    const whole = parseAll([text]);
    expect(whole).toEqual([
      { kind: "event", event: "block", data: "a\nb", id: "7" },
      { kind: "comment", text: "c" },
      { kind: "event", event: "done", data: "x", id: "7" },
      { kind: "event", event: "message", data: "y", id: "7" },
    ]);
    for (let cut = 1; cut < text.length; cut++) {
      expect(parseAll([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    }
    expect(parseAll([...text])).toEqual(whole);
  });

  it("follows the spec's field rules", () => {
    expect(
      parseAll([
        "\ufeffdata:no space\n\n", // a BOM is dropped; the space after the colon is optional
        "data:  two spaces\n\n", // only one space is stripped
        "data\n\n", // a field without a colon has an empty value
        "event: lonely\n\n", // no data line: nothing is dispatched
        "id: 3\0\ndata: nul id ignored\n\n",
        "retry: soon\nretry: 10\n\n", // retry must be digits
        "unknown: x\ndata: z\n\n",
      ]),
    ).toEqual([
      { kind: "event", event: "message", data: "no space", id: "" },
      { kind: "event", event: "message", data: " two spaces", id: "" },
      { kind: "event", event: "message", data: "", id: "" },
      { kind: "event", event: "message", data: "nul id ignored", id: "" },
      { kind: "retry", ms: 10 },
      { kind: "event", event: "message", data: "z", id: "" },
    ]);
  });

  it("drops an event the stream cut before its blank line", () => {
    const parser = new SseParser();
    expect(parser.push("id: 1\nevent: block\ndata: {}\n")).toEqual([]);
    parser.end();
    expect(parser.push("data: next\n\n")).toEqual([{ kind: "event", event: "message", data: "next", id: "1" }]);
  });
});

describe("readSse", () => {
  it("keeps a UTF-8 character that straddles two chunks whole", async () => {
    const bytes = new TextEncoder().encode(formatSseEvent({ id: "0", event: "block", data: "Ève 🌍" }));
    const cut = bytes.indexOf(0xf0) + 2; // in the middle of the emoji
    const items = await collect(bodyOf([bytes.slice(0, cut), bytes.slice(cut)]));
    expect(items).toEqual([{ kind: "event", event: "block", data: "Ève 🌍", id: "0" }]);
  });

  it("throws what the body throws (a dropped connection) after the events before it", async () => {
    const encoder = new TextEncoder();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(encoder.encode("data: one\n\ndata: half"));
        else controller.error(new TypeError("terminated"));
      },
    });
    const seen: SseItem[] = [];
    await expect(async () => {
      for await (const item of readSse(body)) seen.push(item);
    }).rejects.toThrow("terminated");
    expect(seen).toEqual([{ kind: "event", event: "message", data: "one", id: "" }]);
  });

  it("cancels the body when the caller stops early", async () => {
    let canceled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("data: x\n\n"));
      },
      cancel() {
        canceled = true;
      },
    });
    for await (const _ of readSse(body)) break;
    expect(canceled).toBe(true);
  });
});
