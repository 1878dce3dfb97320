import { isTerminalJobStatus, type JobView } from "@bd3-serve/shared";
import { WaitTimeoutError } from "./errors.ts";

/** The edge holds a `Prefer: wait=N` answer at most this long (PREFER_WAIT_MAX_SECONDS). */
export const PREFER_WAIT_MAX_SECONDS = 60;

export interface WaitOptions {
  /** Give up (WaitTimeoutError) after this long; default 10 minutes. */
  timeoutMs?: number;
  /** Pause between polls when the server answered at once (it did not hold the answer); default 1 s. */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

export interface WaitDeps {
  /** One GET of the job with `Prefer: wait=<seconds>`; `held` says whether the server honoured it. */
  poll(waitSeconds: number, signal: AbortSignal | undefined): Promise<{ view: JobView; held: boolean }>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  now?: () => number;
}

/**
 * Polls a job until its status is terminal. Each poll asks the server to hold the answer (`Prefer: wait=N`,
 * N the time left, at most PREFER_WAIT_MAX_SECONDS), so a server that honours it answers the moment the job
 * ends; an answer that came back at once without `Preference-Applied` is followed by a pause of
 * `pollIntervalMs` (growing to 5 s), so a server that ignores the preference is not polled in a busy loop.
 */
export async function waitForTerminal(id: string, deps: WaitDeps, options: WaitOptions = {}): Promise<JobView> {
  const now = deps.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const deadline = now() + timeoutMs;
  let pauseMs = options.pollIntervalMs ?? 1_000;
  for (;;) {
    const leftMs = deadline - now();
    const waitSeconds = Math.max(1, Math.min(PREFER_WAIT_MAX_SECONDS, Math.floor(leftMs / 1_000)));
    const { view, held } = await deps.poll(waitSeconds, options.signal);
    if (isTerminalJobStatus(view.status)) return view;
    const remainingMs = deadline - now();
    if (remainingMs <= 0) throw new WaitTimeoutError(id, timeoutMs);
    if (!held) {
      await deps.sleep(Math.min(pauseMs, remainingMs), options.signal);
      pauseMs = Math.min(5_000, pauseMs * 1.5);
    }
  }
}
