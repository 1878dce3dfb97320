/**
 * The Cloudflare Worker entry (wrangler.toml's `main`): the edge's fetch handler (the Hono app) and the
 * Durable Object classes it binds. "Worker" here is Cloudflare's; the GPU workers that call its worker API
 * (`/internal/*`) are gpu-worker/src/runtime, and their sampler threads are Node worker_threads.
 */
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";

export { DevStreamsObject } from "./dev/dev-streams-object.ts";
export { JobObject } from "./job/job-object.ts";
export { KeyDirectory } from "./keys/key-directory.ts";
export { QueueLedger } from "./queue/queue-ledger.ts";
export { TenantIndex } from "./tenant/tenant-index.ts";

const app = createApp();

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
