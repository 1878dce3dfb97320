import { type SseItem, SseParser } from "./parser.ts";

/**
 * The items of an SSE body, as they arrive. Bytes are decoded as a stream (a UTF-8 character split across
 * chunks stays whole). Returns when the body ends; throws what the body's reader throws (a dropped
 * connection). Stopping the iteration early cancels the body.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseItem, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  let isDone = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        isDone = true;
        yield* parser.push(decoder.decode());
        parser.end();
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    if (!isDone) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
