/**
 * The per-file lifecycle every whole-stack test shares: an optional slow edge proxy (delays appends so a job
 * is reliably mid-run when a test kills, cancels or stops its worker), empty queues before each test, and the
 * in-process workers a test started stopped after it, whatever the test's outcome.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { purgeQueues } from "./queues.ts";
import { type SlowEdge, startSlowEdge } from "./slow-edge.ts";
import { stackAddresses } from "./stack-env.ts";
import { type InProcessWorker, startInProcessWorker } from "./workers.ts";

/** Delay the proxy adds to each append, in milliseconds. */
const SLOW_EDGE_APPEND_DELAY_MS = 40;

export interface StackFixture {
  /** Address of the slow edge proxy (only with `{ slowEdge: true }`). */
  readonly slowEdgeUrl: string;
  /** Starts a worker in this process; it is stopped after the test. */
  startInProcessWorker(overrides?: Record<string, string>): Promise<InProcessWorker>;
}

export function useStackFixture(options: { slowEdge?: boolean } = {}): StackFixture {
  const { slowEdge: withSlowEdge = true } = options;
  let slowEdge: SlowEdge | undefined;
  const workers: InProcessWorker[] = [];

  if (withSlowEdge) {
    beforeAll(async () => {
      slowEdge = await startSlowEdge({ target: stackAddresses().edgeUrl, appendDelayMs: SLOW_EDGE_APPEND_DELAY_MS });
    });
    afterAll(() => slowEdge?.close());
  }
  beforeEach(purgeQueues);
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  return {
    get slowEdgeUrl() {
      if (slowEdge === undefined) throw new Error("useStackFixture({ slowEdge: true }) starts the slow edge");
      return slowEdge.url;
    },
    async startInProcessWorker(overrides = {}) {
      const worker = await startInProcessWorker(overrides);
      workers.push(worker);
      return worker;
    },
  };
}
