/**
 * In-memory wake-ups for live readers (long-poll and SSE) of the streams one Durable Object hosts. A writer
 * calls `notify(name)` after every append, close or delete; each waiter then re-reads storage itself, so the
 * notifier carries no data and a missed wake-up can only delay a reader until its timeout, never lose bytes.
 * Waiters live as long as the object: on eviction the HTTP responses end and readers resume by offset.
 */
export class StreamNotifier {
  private readonly waiters = new Map<string, Set<() => void>>();

  notify(name: string): void {
    const waiting = this.waiters.get(name);
    if (waiting === undefined) return;
    this.waiters.delete(name);
    for (const wake of waiting) wake();
  }

  /** Resolves true when `name` is notified, false after `timeoutMs` or once `signal` aborts. */
  wait(name: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let waiting = this.waiters.get(name);
      if (waiting === undefined) {
        waiting = new Set();
        this.waiters.set(name, waiting);
      }
      const finish = (isNotified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiters.get(name)?.delete(wake);
        resolve(isNotified);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      waiting.add(wake);
    });
  }

  /** Readers waiting on `name` right now. */
  waiting(name: string): number {
    return this.waiters.get(name)?.size ?? 0;
  }
}
