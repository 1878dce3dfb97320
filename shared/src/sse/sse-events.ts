/**
 * A minimal server-sent events reader (the edge reading its own job streams, the `npm start` demo, the benches, the
 * whole-stack tests): yields each event of a body (`id`, `event` defaulting to "message", `data` lines
 * joined), skipping comments and events without data, until the body ends.
 */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replaceAll("\r\n", "\n");
    let boundary = buffer.indexOf("\n\n");
    while (boundary !== -1) {
      const event = parseFrame(buffer.slice(0, boundary));
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf("\n\n");
      if (event !== undefined) yield event;
    }
  }
}

function parseFrame(frame: string): SseEvent | undefined {
  const event: SseEvent = { event: "message", data: "" };
  const dataLines: string[] = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
    else if (field === "data") dataLines.push(value);
  }
  if (dataLines.length === 0) return undefined;
  event.data = dataLines.join("\n");
  return event;
}
