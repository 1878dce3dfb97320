/** `device.ts summary`: one line per measurement of report files, for a human. */
import { readFileSync } from "node:fs";
import { basename } from "node:path";

import { type CommonReport, errorText } from "./common.ts";

export function fmt(value: unknown, digits = 1): string {
  if (value === undefined || value === null) return "-";
  return typeof value === "number" ? value.toFixed(digits) : String(value);
}

/** One line for a measurement record (engine throughput, position, session run, profile, skip or error). */
export function describe(result: Record<string, unknown>): string {
  const task = String(result.task);
  if (result.error) return `${task}: ERROR ${String(result.error).slice(0, 300)}`;
  if (result.skipped) return `${task}: skipped (${String(result.skipped)})`;
  if (task.startsWith("tput:"))
    return `${task}${result.timed === false ? " (untimed round only: budget)" : ""}: ${fmt(result.tokensPerSecond)} tok/s, ${fmt(result.forwardsPerSecond)} fwd/s, ${fmt(result.msPerForward, 2)} ms/fwd (run() ${fmt(result.runMsPerForward, 2)} ms, ${fmt(100 * Number(result.runShare))}% of time), ${fmt(Number(result.bytesPerForward) / 1e6, 2)} MB across run()/fwd`;
  if (task.startsWith("pos:"))
    return `${task} (past ${fmt(result.pastTokens, 0)}): ${fmt(result.msPerBlock)} ms/block, ${fmt(result.tokensPerSecond)} tok/s, ${fmt(result.msPerForward, 2)} ms/fwd, outside run() ${fmt(100 * Number(result.outsideRunShare))}%, ${fmt(Number(result.bytesPerToken) / 1e6, 2)} MB across run()/token`;
  if (task.startsWith("run:"))
    return `${task}: median ${fmt(result.msMedian, 2)} ms (min ${fmt(result.msMin, 2)}, ${fmt(result.runs, 0)} runs), ${fmt(Number(result.bytesIn) / 1e6, 2)} MB in + ${fmt(Number(result.bytesOut) / 1e6, 2)} MB out`;
  if (task.startsWith("open:")) return `${task}: ${fmt(result.openSeconds, 2)} s`;
  if (task === "profile")
    return `profile: ${JSON.stringify(result.providers)} top ${JSON.stringify(result.topOps).slice(0, 400)}`;
  if (task === "probe")
    return `probe: first run ${fmt(result.firstRunMs)} ms, logits finite ${fmt(result.finiteShare, 3)}`;
  return JSON.stringify(result).slice(0, 300);
}

export function summaryMode(files: string[]): void {
  for (const file of files) {
    let report: CommonReport;
    try {
      report = JSON.parse(readFileSync(file, "utf8")) as CommonReport;
    } catch (error) {
      process.stdout.write(`${basename(file)}: unreadable (${errorText(error)})\n`);
      continue;
    }
    const head = `${basename(file)}: ${report.kind} ${basename(report.model)} ${report.dtype} ep=${report.ep}${report.executionProvider && report.executionProvider !== report.ep ? ` (ran ${report.executionProvider})` : ""} threads=${report.threads ?? "default"}${report.devicePast ? ` device-past=${report.devicePast}` : ""} open ${fmt(report.openSeconds)} s, ${fmt(report.elapsedSeconds)} s, peak RSS ${fmt(report.peakRssMb, 0)} MB${report.finished ? "" : " [UNFINISHED]"}`;
    process.stdout.write(`${head}\n`);
    if (report.error) process.stdout.write(`  ERROR ${report.error.slice(0, 600)}\n`);
    for (const result of report.results) process.stdout.write(`  ${describe(result)}\n`);
  }
}
