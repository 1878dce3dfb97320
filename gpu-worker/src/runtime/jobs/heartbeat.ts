/**
 * A repeating task that never overlaps itself: a tick that is still running when the next is due is skipped,
 * so a slow edge cannot pile up heartbeats. Returns the stop function; callers clear it in `finally`.
 */
export function startHeartbeat(intervalMs: number, tick: () => Promise<void>, onError: (error: unknown) => void) {
  let isTicking = false;
  const timer = setInterval(() => {
    if (isTicking) return;
    isTicking = true;
    tick()
      .catch(onError)
      .finally(() => {
        isTicking = false;
      });
  }, intervalMs);
  timer.unref?.();
  return function stopHeartbeat(): void {
    clearInterval(timer);
  };
}
