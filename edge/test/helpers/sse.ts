/** A parsed server-sent event (comments are kept separately: keep-alives are comments). */
export interface ParsedEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Reads an SSE body until `done` (or the stream ends, or `stopWhen` says so) and returns the events and
 * comments seen. Awaits the stream itself; never sleeps.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  stopWhen: (events: ParsedEvent[], comments: string[]) => boolean = (events) =>
    events.some((event) => event.event === "done"),
): Promise<{ events: ParsedEvent[]; comments: string[] }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const events: ParsedEvent[] = [];
  const comments: string[] = [];
  let buffer = "";
  try {
    while (!stopWhen(events, comments)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: ParsedEvent = { data: "" };
        const data: string[] = [];
        let isEvent = false;
        for (const line of frame.split("\n")) {
          if (line.startsWith(":")) {
            comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(": ");
          const field = line.slice(0, colon);
          const value = line.slice(colon + 2);
          if (field === "id") event.id = value;
          else if (field === "event") event.event = value;
          else if (field === "data") data.push(value);
          else continue;
          isEvent = true;
        }
        event.data = data.join("\n");
        if (isEvent) events.push(event);
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return { events, comments };
}
