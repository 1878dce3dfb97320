import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { FORCED_EXIT_CODE, installShutdown } from "../../src/runtime/shutdown.ts";

function setup(stopResult: () => Promise<boolean>) {
  const signals = new EventEmitter();
  const exit = vi.fn();
  const stop = vi.fn((_deadlineMs: number) => stopResult());
  const handle = installShutdown({ stop, graceMs: 10_000, logger: silentLogger(), exit, signals });
  return { signals, exit, stop, handle };
}

describe("shutdown", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("drains on SIGTERM with the grace deadline and exits 0 when clean", async () => {
    const { signals, exit, stop, handle } = setup(async () => true);
    signals.emit("SIGTERM");
    expect(stop).toHaveBeenCalledWith(1_010_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    handle.dispose();
  });

  it("exits 1 when the drain was not clean", async () => {
    const { signals, exit, handle } = setup(async () => false);
    signals.emit("SIGINT");
    await vi.advanceTimersByTimeAsync(0);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
    handle.dispose();
  });

  it("exits 1 when the grace period runs out first", async () => {
    const { signals, exit, handle } = setup(() => new Promise<boolean>(() => {}));
    signals.emit("SIGTERM");
    await vi.advanceTimersByTimeAsync(9_999);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
    handle.dispose();
  });

  it("exits at once on a second signal", async () => {
    const { signals, exit, stop, handle } = setup(() => new Promise<boolean>(() => {}));
    signals.emit("SIGTERM");
    await vi.advanceTimersByTimeAsync(100);
    signals.emit("SIGTERM");
    expect(exit).toHaveBeenCalledExactlyOnceWith(FORCED_EXIT_CODE);
    expect(stop).toHaveBeenCalledTimes(1);
    handle.dispose();
  });
});
