/**
 * The environment variables that carry a conformance run's settings from the runner (run-suite.ts) into the
 * vitest child (suite.config.ts, conformance.suite.ts). Not BASE_URL: Vite sets that one to "/" in every file.
 */

/** The server under test; the suite appends paths such as `/v1/stream/<name>` to it. */
export const BASE_URL_ENV = "DS_CONFORMANCE_BASE_URL";
/** The longest the server under test holds a long-poll open, in milliseconds. */
export const LONG_POLL_TIMEOUT_MS_ENV = "DS_CONFORMANCE_LONG_POLL_TIMEOUT_MS";
/** The suite's own default, and the edge's (STREAM_LONG_POLL_SECONDS=20). */
export const DEFAULT_LONG_POLL_TIMEOUT_MS = 20_000;

export function longPollTimeoutMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LONG_POLL_TIMEOUT_MS_ENV];
  if (raw === undefined || raw === "") return DEFAULT_LONG_POLL_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${LONG_POLL_TIMEOUT_MS_ENV} must be a positive integer`);
  return value;
}
