/**
 * In-memory stand-ins for the runtime's unit tests (polling, heartbeats, shutdown), one import for a test:
 * the queue and its messages (fake-queue.ts), the edge (fake-edge.ts) and the engine (fake-engine.ts). They
 * model only what the consumer and the job runner observe; the real engine, SQS (fauxqs) and edge (Miniflare)
 * are exercised by the whole-stack tests in `tests/`.
 */
export { FakeEdge } from "./fake-edge.ts";
export { FakeEngine } from "./fake-engine.ts";
export { FAKE_QUEUE_URL, FakeQueue, jobMessage, queueMessage } from "./fake-queue.ts";
