/**
 * Registers the Durable Streams server conformance suite (@durable-streams/server-conformance-tests) against
 * the server in DS_CONFORMANCE_BASE_URL, with the long-poll timeout from DS_CONFORMANCE_LONG_POLL_TIMEOUT_MS
 * (the suite uses it only to size the test timeouts of its long-poll tests).
 */
import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { BASE_URL_ENV, longPollTimeoutMsFromEnv } from "./settings.ts";

const baseUrl = process.env[BASE_URL_ENV];
if (baseUrl === undefined || baseUrl === "") throw new Error(`${BASE_URL_ENV} must name the server under test`);

runConformanceTests({ baseUrl, longPollTimeoutMs: longPollTimeoutMsFromEnv() });
