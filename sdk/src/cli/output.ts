import type { JobSummary } from "@bd3-serve/shared";
import { ApiError, Bd3Error } from "../errors.ts";
import { CliError } from "./cli-error.ts";

/** Exit status of a finished job: 0 only when it succeeded. */
export function exitCodeOf(job: Pick<JobSummary, "status">): number {
  return job.status === "succeeded" ? 0 : 1;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** The few facts of a job, one per line, for people. */
export function describeJob(job: JobSummary): string {
  const lines = [
    `id:            ${job.id}`,
    `status:        ${job.status}${job.is_stalled ? " (stalled)" : ""}`,
    `model:         ${job.model}`,
    `progress:      ${job.progress.blocks} blocks, ${job.progress.tokens} tokens`,
    `finish_reason: ${job.finish_reason ?? "-"}`,
    `created_at:    ${job.created_at}`,
  ];
  if (job.error) lines.push(`error:         ${job.error.code}: ${job.error.message}`);
  return `${lines.join("\n")}\n`;
}

/** One line for stderr, and the exit status, for anything a command threw. */
export function reportError(error: unknown): number {
  if (error instanceof CliError) {
    process.stderr.write(`bd3: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof ApiError) {
    const details = [
      error.code === null ? null : `code ${error.code}`,
      error.param === null ? null : `param ${error.param}`,
      error.requestId === null ? null : `request ${error.requestId}`,
    ].filter((detail) => detail !== null);
    const suffix = details.length === 0 ? "" : ` (${details.join(", ")})`;
    process.stderr.write(`bd3: ${error.type} (HTTP ${error.status}): ${error.message}${suffix}\n`);
    return 1;
  }
  if (error instanceof Bd3Error) {
    const cause =
      error.cause instanceof Error && !error.message.includes(error.cause.message) ? `: ${error.cause.message}` : "";
    process.stderr.write(`bd3: ${error.message}${cause}\n`);
    return 1;
  }
  process.stderr.write(`bd3: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}
