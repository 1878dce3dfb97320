/**
 * Who waits for a free job slot (the consumer, before it receives more): each waiter is resolved when a slot
 * frees (`notifyAll`) or its signal aborts, whichever comes first, and is forgotten either way.
 */
export class SlotWaiters {
  private readonly waiters = new Set<() => void>();

  /** Resolves at once when `hasFreeSlot()`, else at the next `notifyAll` or abort. */
  wait(hasFreeSlot: () => boolean, signal?: AbortSignal): Promise<void> {
    if (hasFreeSlot() || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  notifyAll(): void {
    for (const notify of [...this.waiters]) notify();
  }
}
