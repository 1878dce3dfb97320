/**
 * The harness of the job-runner tests: a whole worker (startWorker) on a fake queue, a fake edge and a fake
 * engine whose steps wait on a gate (a forward "in progress" until the test opens it), under fake timers.
 * `useRunnerHarness()` registers the per-test lifecycle (fake timers on; after the test: the gate opened, the
 * worker stopped, its last long poll ended, real timers back) and returns `setup`, which starts the worker.
 */
import { afterEach, beforeEach, vi } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { silentLogger } from "../../src/runtime/observability/logger.ts";
import { startWorker, type Worker } from "../../src/runtime/worker.ts";
import { FakeEdge, FakeEngine, FakeQueue } from "./fakes.ts";
import { FAKE_WORKER_ENV } from "./runner-env.ts";

/** A gate the fake engine's step waits on: a forward that is "in progress" until opened. */
export class Gate {
  private resolve: () => void = () => {};
  promise: Promise<void> = Promise.resolve();
  close() {
    this.promise = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }
  open() {
    this.resolve();
    this.promise = Promise.resolve();
  }
}

export class GatedEngine extends FakeEngine {
  readonly gate = new Gate();
  override async step() {
    await this.gate.promise;
    return super.step();
  }
}

export interface RunnerSetup {
  engine: GatedEngine;
  queue: FakeQueue;
  edge: FakeEdge;
  worker: Worker;
}

export function useRunnerHarness(): (options?: { blocks?: number; maxRunning?: number }) => Promise<RunnerSetup> {
  let worker: Worker | undefined;
  let engineInUse: GatedEngine | undefined;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(async () => {
    engineInUse?.gate.open();
    const stopped = worker?.stop(Date.now() + 5_000);
    await vi.advanceTimersByTimeAsync(1_000); // the last long poll ends
    await stopped;
    vi.useRealTimers();
    worker = undefined;
  });

  return async function setup(options = {}) {
    const engine = new GatedEngine(options.blocks ?? 3, options.maxRunning ?? 8);
    engineInUse = engine;
    const queue = new FakeQueue();
    const edge = new FakeEdge();
    const config = loadConfig({ env: FAKE_WORKER_ENV, envFile: null });
    worker = await startWorker(config, { engine, queue, edge, logger: silentLogger() });
    return { engine, queue, edge, worker };
  };
}
