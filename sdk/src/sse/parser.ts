/**
 * An incremental parser of `text/event-stream` (WHATWG HTML, "server-sent events"), fed decoded text in
 * chunks of any size: a line, a field or a CRLF may be split across chunks. It keeps the partial line, the
 * event being built (data lines, event type) and the last event id, as EventSource does: `id:` persists
 * from event to event until another `id:` changes it, and is ignored when it contains NUL.
 */

/** A dispatched event. `id` is the last event id in force (the stream's, not only this event's). */
export interface SseMessage {
  kind: "event";
  event: string;
  data: string;
  id: string;
}

/** A comment line (`: keep-alive`): no event, but proof the connection is alive. */
export interface SseComment {
  kind: "comment";
  text: string;
}

/** A `retry:` field: the server's reconnection delay in milliseconds. */
export interface SseRetry {
  kind: "retry";
  ms: number;
}

export type SseItem = SseMessage | SseComment | SseRetry;

export class SseParser {
  #buffer = "";
  #isFirstChunk = true;
  /** A chunk ended in CR: an LF at the start of the next one belongs to the same line break. */
  #pendingCr = false;
  #data: string[] = [];
  #event = "";
  #lastEventId = "";

  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Feeds decoded text; returns the items it completed. */
  push(text: string): SseItem[] {
    let chunk = text;
    if (this.#isFirstChunk && chunk !== "") {
      this.#isFirstChunk = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.#pendingCr && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.#pendingCr = false;
    this.#buffer += chunk;
    const items: SseItem[] = [];
    const lineBreak = /\r\n|\r|\n/g;
    let start = 0;
    for (let match = lineBreak.exec(this.#buffer); match !== null; match = lineBreak.exec(this.#buffer)) {
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (match[0] === "\r" && match.index === this.#buffer.length - 1) this.#pendingCr = true;
      this.#line(this.#buffer.slice(start, match.index), items);
      start = match.index + match[0].length;
    }
    this.#buffer = this.#buffer.slice(start);
    return items;
  }

  /** The stream ended: an event not terminated by a blank line is dropped, as the spec says. */
  end(): void {
    this.#buffer = "";
    this.#reset();
  }

  #line(line: string, items: SseItem[]): void {
    if (line === "") {
      this.#dispatch(items);
      return;
    }
    if (line.startsWith(":")) {
      items.push({ kind: "comment", text: line.slice(1).replace(/^ /, "") });
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    switch (field) {
      case "data":
        this.#data.push(value);
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) items.push({ kind: "retry", ms: Number(value) });
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  #dispatch(items: SseItem[]): void {
    // An event with no data line is not dispatched (EventSource's rule), whatever its type.
    if (this.#data.length > 0) {
      items.push({
        kind: "event",
        event: this.#event === "" ? "message" : this.#event,
        data: this.#data.join("\n"),
        id: this.#lastEventId,
      });
    }
    this.#reset();
  }

  #reset(): void {
    this.#data = [];
    this.#event = "";
  }
}
