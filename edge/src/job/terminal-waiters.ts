/**
 * Callers waiting for the job to end (`Prefer: wait=N` on a view, through JobObject.waitForTerminal), woken
 * all at once by the terminal transition (transitions.ts).
 *
 * State: in memory on purpose, like the object's open connections: a waiter is a pending RPC call, which
 * dies with the object anyway, and each has its own timer, so none outlives its `timeoutMs`.
 */
export class TerminalWaiters {
  private readonly waiters = new Set<() => void>();

  /** Resolves when `wakeAll` runs or after `timeoutMs`, whichever comes first. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }
}
