/**
 * Runs the Durable Streams conformance suite (suite/) against one server in a vitest child process and returns
 * the full names of the tests that passed, failed and were skipped, read from vitest's JSON report. A child of
 * its own so two servers can be tested at once, and so the suite's vitest run is separate from the caller's.
 *
 * The child's exit code is not an error (it is nonzero whenever one test fails); a missing or unreadable report
 * is. The child's console output goes to `<outputFile>.log` beside the report.
 */
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BASE_URL_ENV, LONG_POLL_TIMEOUT_MS_ENV } from "./suite/settings.ts";

const REPO_ROOT = join(import.meta.dirname, "../..");
const VITEST_ENTRY = join(REPO_ROOT, "node_modules/vitest/vitest.mjs");
const SUITE_CONFIG = join(import.meta.dirname, "suite/suite.config.ts");

export interface ConformanceSuiteOptions {
  baseUrl: string;
  longPollTimeoutMs: number;
  /** Where vitest writes its JSON report. */
  outputFile: string;
  /** Kills the child (SIGKILL) when aborted; the run then rejects. */
  signal?: AbortSignal;
}

export interface ConformanceResult {
  passed: string[];
  failed: string[];
  /** Skipped, pending and todo tests. */
  skipped: string[];
  durationMs: number;
  /** The child's exit code (nonzero as soon as one test fails) or the signal that ended it. */
  exit: number | string;
  logFile: string;
}

interface JsonReport {
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

/** Vitest's own settings for a run it is inside of; a nested run must not see them. */
function childEnv(options: ConformanceSuiteOptions): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith("VITEST") && name !== "TEST" && name !== "NODE_ENV",
    ),
  );
  return { ...env, [BASE_URL_ENV]: options.baseUrl, [LONG_POLL_TIMEOUT_MS_ENV]: String(options.longPollTimeoutMs) };
}

export function parseReport(text: string): Pick<ConformanceResult, "passed" | "failed" | "skipped"> {
  const report = JSON.parse(text) as JsonReport;
  if (!Array.isArray(report.testResults)) throw new Error("the report has no testResults");
  const result = { passed: [] as string[], failed: [] as string[], skipped: [] as string[] };
  for (const file of report.testResults) {
    for (const test of file.assertionResults) {
      if (test.status === "passed") result.passed.push(test.fullName);
      else if (test.status === "failed") result.failed.push(test.fullName);
      else result.skipped.push(test.fullName);
    }
  }
  return result;
}

export async function runConformanceSuite(options: ConformanceSuiteOptions): Promise<ConformanceResult> {
  const startedAt = Date.now();
  const logFile = `${options.outputFile}.log`;
  // A report left by an earlier run must not pass for this one's.
  rmSync(options.outputFile, { force: true });
  const log = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    [VITEST_ENTRY, "run", "--config", SUITE_CONFIG, "--reporter=json", `--outputFile=${options.outputFile}`],
    { cwd: REPO_ROOT, env: childEnv(options), stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const kill = () => child.kill("SIGKILL");
  options.signal?.addEventListener("abort", kill, { once: true });

  const exit = await new Promise<number | string>((resolveExit, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolveExit(code ?? signal ?? "unknown"));
  }).finally(() => {
    options.signal?.removeEventListener("abort", kill);
    log.end();
  });
  if (options.signal?.aborted) throw new Error(`the conformance run against ${options.baseUrl} was aborted`);
  if (!existsSync(options.outputFile))
    throw new Error(`the conformance run against ${options.baseUrl} exited (${exit}) without a report; see ${logFile}`);
  let tests: ReturnType<typeof parseReport>;
  try {
    tests = parseReport(readFileSync(options.outputFile, "utf8"));
  } catch (error) {
    throw new Error(`unreadable report ${options.outputFile} (${(error as Error).message}); see ${logFile}`);
  }
  return { ...tests, durationMs: Date.now() - startedAt, exit, logFile };
}
