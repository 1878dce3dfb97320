/**
 * Vitest config for one run of the Durable Streams server conformance suite (conformance.suite.ts) against
 * the server named in DS_CONFORMANCE_BASE_URL. Started as a child process by run-suite.ts, never by the
 * workspace's projects: the file is not a depth-one `vitest.config.ts` and the suite file is not `*.test.ts`.
 */
import { defineConfig } from "vitest/config";
import { longPollTimeoutMsFromEnv } from "./settings.ts";

/** Room beyond one full long-poll: some suite tests wait a whole server long-poll under the default timeout. */
const TEST_TIMEOUT_MARGIN_MS = 10_000;

export default defineConfig({
  root: import.meta.dirname,
  test: {
    include: ["*.suite.ts"],
    environment: "node",
    testTimeout: longPollTimeoutMsFromEnv() + TEST_TIMEOUT_MARGIN_MS,
    hookTimeout: 30_000,
  },
});
