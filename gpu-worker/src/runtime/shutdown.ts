/**
 * Signal handling. The first SIGTERM/SIGINT starts a drain bounded by the grace period and exits 0 when it
 * finished cleanly in time (1 otherwise, or when the grace period runs out first). A second signal exits at
 * once (the operator insists). Exit is injected so tests can drive this with fake timers.
 */
import type { Logger } from "./observability/logger.ts";

export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;
/** Exit code for a forced exit (second signal), as shells report a signal death: 128 + SIGTERM (15). */
export const FORCED_EXIT_CODE = 143;

export interface SignalSource {
  on(signal: (typeof SHUTDOWN_SIGNALS)[number], listener: () => void): unknown;
  off(signal: (typeof SHUTDOWN_SIGNALS)[number], listener: () => void): unknown;
}

export interface ShutdownOptions {
  /** Drains; resolves true when everything was let go cleanly. Gets the deadline as epoch milliseconds. */
  stop: (deadlineMs: number) => Promise<boolean>;
  graceMs: number;
  logger: Logger;
  exit: (code: number) => void;
  signals?: SignalSource;
  now?: () => number;
}

export interface ShutdownHandle {
  /** Starts the drain as if a signal had arrived (used when the engine breaks); `exitCode` overrides success. */
  trigger(reason: string, exitCode?: number): void;
  dispose(): void;
}

export function installShutdown(options: ShutdownOptions): ShutdownHandle {
  const { stop, graceMs, logger, exit, signals = process, now = Date.now } = options;
  let isShuttingDown = false;
  let hardTimer: ReturnType<typeof setTimeout> | undefined;

  function trigger(reason: string, exitCode?: number): void {
    if (isShuttingDown) {
      logger.warn({ reason }, "second shutdown signal: exiting now");
      exit(FORCED_EXIT_CODE);
      return;
    }
    isShuttingDown = true;
    const deadlineMs = now() + graceMs;
    logger.info({ reason, grace_ms: graceMs }, "shutting down: draining");
    hardTimer = setTimeout(() => {
      logger.error({ grace_ms: graceMs }, "grace period over before the drain finished: exiting");
      exit(1);
    }, graceMs);
    stop(deadlineMs)
      .then((isClean) => {
        clearTimeout(hardTimer);
        exit(exitCode ?? (isClean ? 0 : 1));
      })
      .catch((error: unknown) => {
        clearTimeout(hardTimer);
        logger.error({ err: error }, "drain failed");
        exit(1);
      });
  }

  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => trigger(signal);
    signals.on(signal, listener);
    return [signal, listener] as const;
  });

  return {
    trigger,
    dispose() {
      clearTimeout(hardTimer);
      for (const [signal, listener] of listeners) signals.off(signal, listener);
    },
  };
}
