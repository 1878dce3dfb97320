import { defineConfig } from "vitest/config";

/**
 * Whole-stack tests: fauxqs (local SQS) + the real edge (bundled by wrangler, run in Miniflare) + the worker runtime with
 * the real engine. One stack for all files (global setup); files run one after another because they share the
 * jobs queue, and a worker left running by one file would take the next file's jobs.
 */
export default defineConfig({
  test: {
    name: "tests",
    include: ["**/*.test.ts"],
    environment: "node",
    globalSetup: ["./support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
