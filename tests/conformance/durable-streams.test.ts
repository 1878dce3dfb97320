/**
 * The Durable Streams server conformance suite against the edge (its development mount, `/dev/streams`) and
 * against the reference server (@durable-streams/server) in the same run, at the same time. Every test the
 * reference passes must pass against the edge too; the tests only the edge passes are printed, not asserted.
 * Both runs' counts and lists go to a summary file under the OS temp dir (its path is printed).
 *
 * Uses the shared whole-stack edge (tests/support/global-setup.ts); the reference server runs as a child
 * process. Each suite run takes one to two minutes on two cores, hence the long test timeout.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stackAddresses } from "../support/stack.ts";
import { compareRuns, counts } from "./compare.ts";
import { type ReferenceServer, startReferenceServer } from "./reference-process.ts";
import { runConformanceSuite } from "./run-suite.ts";
import { longPollTimeoutMsFromEnv } from "./suite/settings.ts";

/**
 * How long both servers hold a long-poll: 20 s, the edge's STREAM_LONG_POLL_SECONDS default, unless
 * DS_CONFORMANCE_LONG_POLL_TIMEOUT_MS says otherwise (for an edge started with another value).
 */
const LONG_POLL_TIMEOUT_MS = longPollTimeoutMsFromEnv();
/** Two parallel suite runs of ~70-120 s each on two busy cores, with room to spare. */
const TEST_TIMEOUT_MS = 6 * 60_000;
/** The edge's Durable Streams mount in development. */
const EDGE_STREAMS_PATH = "/dev/streams";

let reference: ReferenceServer | undefined;
const runs = new AbortController();

afterAll(async () => {
  // Kills the vitest children when the test timed out (they would run on), then the reference server.
  runs.abort();
  await reference?.stop();
});

describe("Durable Streams conformance", () => {
  it(
    "the edge passes every conformance test the reference server passes",
    async () => {
      const outputDir = mkdtempSync(join(tmpdir(), "bd3-conformance-"));
      reference = await startReferenceServer({ longPollTimeoutMs: LONG_POLL_TIMEOUT_MS });
      const edgeBaseUrl = `${stackAddresses().edgeUrl}${EDGE_STREAMS_PATH}`;

      const [referenceRun, edgeRun] = await Promise.all([
        runConformanceSuite({
          baseUrl: reference.url,
          longPollTimeoutMs: LONG_POLL_TIMEOUT_MS,
          outputFile: join(outputDir, "reference.json"),
          signal: runs.signal,
        }),
        runConformanceSuite({
          baseUrl: edgeBaseUrl,
          longPollTimeoutMs: LONG_POLL_TIMEOUT_MS,
          outputFile: join(outputDir, "edge.json"),
          signal: runs.signal,
        }),
      ]);
      const { missingOnEdge, edgeOnly } = compareRuns(referenceRun, edgeRun);

      const summaryFile = join(outputDir, "summary.json");
      writeFileSync(
        summaryFile,
        `${JSON.stringify(
          {
            longPollTimeoutMs: LONG_POLL_TIMEOUT_MS,
            reference: { baseUrl: reference.url, ...referenceRun },
            edge: { baseUrl: edgeBaseUrl, ...edgeRun },
            missingOnEdge,
            edgeOnly,
          },
          null,
          2,
        )}\n`,
      );
      const lines = [
        `reference: ${counts(referenceRun)}; edge: ${counts(edgeRun)}`,
        `summary: ${summaryFile}`,
        `passed on the reference, not on the edge (${missingOnEdge.length}):`,
        ...missingOnEdge.map((name) => `  - ${name}`),
        `passed on the edge, not on the reference (${edgeOnly.length}):`,
        ...edgeOnly.map((name) => `  + ${name}`),
      ];
      console.log(lines.join("\n"));

      // A reference run that passed (almost) nothing means the harness broke, not that the edge is fine.
      expect(referenceRun.passed.length, `the reference run; see ${referenceRun.logFile}`).toBeGreaterThan(300);
      expect(missingOnEdge, `edge failures listed in ${summaryFile}`).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
