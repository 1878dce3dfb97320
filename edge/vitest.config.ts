import { createHash } from "node:crypto";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { createLogger } from "vite";
import { defineConfig } from "vitest/config";
import { TEST_KEYS, TEST_RATE_LIMIT_PER_MINUTE } from "./test/test-keys.ts";

const apiKeys = Object.values(TEST_KEYS).map((entry) => ({
  id: entry.id,
  tenant_id: entry.tenantId,
  sha256: createHash("sha256").update(entry.key).digest("hex"),
  ...("scopes" in entry ? { scopes: entry.scopes } : {}),
  ...("priorityMax" in entry ? { priority_max: entry.priorityMax } : {}),
}));

/** fauxqs ships sourcemaps without sources; vite warns once per file. Everything else passes through. */
const logger = createLogger();
const isMissingSourcesNoise = (message: string) => message.includes("points to missing source files");
const { warn, warnOnce } = logger;
logger.warn = (message, options) => {
  if (!isMissingSourcesNoise(message)) warn(message, options);
};
logger.warnOnce = (message, options) => {
  if (!isMissingSourcesNoise(message)) warnOnce(message, options);
};

/**
 * The edge tests run inside workerd (@cloudflare/vitest-pool-workers) against the root wrangler.toml, with
 * test keys, the fauxqs queue and the webhook receiver from the global setup.
 */
export default defineConfig({
  customLogger: logger,
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./src/worker.ts",
      wrangler: { configPath: "../wrangler.toml" },
      miniflare: {
        bindings: {
          API_KEYS: JSON.stringify(apiKeys),
          SQS_ENDPOINT: inject("sqsEndpoint"),
          SQS_QUEUE_URL: inject("sqsQueueUrl"),
          // Every model wrangler.toml serves, by priority (test/node/global-setup.ts); the default model's
          // normal queue is SQS_QUEUE_URL.
          SQS_QUEUES: JSON.stringify(inject("sqsQueues")),
          SSE_KEEPALIVE_SECONDS: "1",
          CORS_ALLOWED_ORIGINS: "https://app.example.com",
          QUOTAS: JSON.stringify({
            tenants: {
              tenant_queued: { max_queued_jobs: 3 },
              tenant_tokens: { tokens_per_day: 10 },
              tenant_running: { max_running_jobs: 1 },
            },
          }),
          // Small, so test/live-readers.test.ts reaches both caps with a handful of readers.
          STREAM_READERS_PER_JOB_MAX: "4",
          STREAM_READERS_PER_TENANT_MAX: "6",
        },
        ratelimits: {
          RATE_LIMITER: { simple: { limit: TEST_RATE_LIMIT_PER_MINUTE, period: 60 } },
          // High, so the many 401s of the suite are not limited; the failure limit is tested on the low one.
          AUTH_FAILURE_LIMITER: { simple: { limit: TEST_RATE_LIMIT_PER_MINUTE, period: 60 } },
          AUTH_FAILURE_LIMITER_LOW: { simple: { limit: 5, period: 60 } },
        },
      },
    })),
  ],
  test: {
    name: "edge",
    // One JSON line per request (middleware/request-log.ts) would bury the test output; test/observability.test.ts
    // reads them through a spy instead.
    onConsoleLog: (log) => !log.startsWith('{"event":"request"'),
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["./test/node/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
