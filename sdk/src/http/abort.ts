import { AbortError } from "../errors.ts";

/** Waits `ms`; rejects with AbortError as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortErrorOf(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortErrorOf(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function abortErrorOf(signal: AbortSignal): AbortError {
  return new AbortError("the request was aborted", { cause: signal.reason });
}

/** A controller that aborts when any of `signals` does (AbortSignal.any is not everywhere yet). */
export function linkedController(...signals: (AbortSignal | undefined)[]): {
  controller: AbortController;
  unlink(): void;
} {
  const controller = new AbortController();
  const unlinks: (() => void)[] = [];
  for (const signal of signals) {
    if (signal === undefined) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    unlinks.push(() => signal.removeEventListener("abort", onAbort));
  }
  const unlink = () => {
    for (const remove of unlinks.splice(0)) remove();
  };
  return { controller, unlink };
}
