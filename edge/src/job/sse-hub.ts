import type { Block, JobSummary } from "@bd3-serve/shared";
import { SSE_MAX_BUFFERED_BYTES } from "../config/constants.ts";
import { formatSseComment, formatSseEvent, formatSseRetry } from "../sse/framing.ts";

/** How long an EventSource waits before reconnecting after the stream drops, in milliseconds. */
const RECONNECT_DELAY_MS = 2_000;

interface Subscriber {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  bufferedBytes: number;
}

const encoder = new TextEncoder();

export function blockEvent(block: Block): string {
  return formatSseEvent({ id: String(block.index), event: "block", data: JSON.stringify(block) });
}

export function doneEvent(summary: JobSummary): string {
  return formatSseEvent({ event: "done", data: JSON.stringify(summary) });
}

/**
 * Live SSE fan-out of one job, in memory. A stream is opened with its catch-up frames already written and
 * registered in the same synchronous turn that read them from SQLite, so no block can fall between
 * catch-up and live. Slow readers are dropped once too far behind (they resume exactly by Last-Event-ID);
 * a keep-alive comment runs while anyone listens. On eviction the streams close and clients reconnect.
 */
export class SseHub {
  private readonly subscribers = new Set<Subscriber>();
  private keepalive: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly keepaliveMs: number) {}

  /** A stream that starts with `catchUp` frames; it stays open (live) unless `close` is set. */
  open(catchUp: string[], { close }: { close: boolean }): ReadableStream<Uint8Array> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const subscriber: Subscriber = { writer: writable.getWriter(), bufferedBytes: 0 };
    this.write(subscriber, formatSseRetry(RECONNECT_DELAY_MS));
    for (const frame of catchUp) this.write(subscriber, frame);
    if (close) {
      void subscriber.writer.close().catch(() => {});
    } else {
      this.subscribers.add(subscriber);
      this.startKeepalive();
    }
    return readable;
  }

  publish(frame: string): void {
    for (const subscriber of this.subscribers) this.write(subscriber, frame);
  }

  /** Sends the last frame to everyone and ends their streams. */
  closeAll(lastFrame: string): void {
    for (const subscriber of this.subscribers) {
      this.write(subscriber, lastFrame);
      void subscriber.writer.close().catch(() => {});
    }
    this.subscribers.clear();
    this.stopKeepalive();
  }

  get size(): number {
    return this.subscribers.size;
  }

  private write(subscriber: Subscriber, frame: string): void {
    const bytes = encoder.encode(frame);
    subscriber.bufferedBytes += bytes.byteLength;
    if (subscriber.bufferedBytes > SSE_MAX_BUFFERED_BYTES) {
      this.drop(subscriber);
      return;
    }
    subscriber.writer.write(bytes).then(
      () => {
        subscriber.bufferedBytes -= bytes.byteLength;
      },
      () => this.drop(subscriber),
    );
  }

  private drop(subscriber: Subscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    void subscriber.writer.abort("subscriber dropped").catch(() => {});
    if (this.subscribers.size === 0) this.stopKeepalive();
  }

  private startKeepalive(): void {
    this.keepalive ??= setInterval(() => this.publish(formatSseComment("keep-alive")), this.keepaliveMs);
  }

  private stopKeepalive(): void {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.keepalive = null;
  }
}
