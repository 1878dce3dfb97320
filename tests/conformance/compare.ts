/**
 * Compares two conformance runs (the reference server's and the edge's) by test name, and renders the
 * counts line the whole-stack test prints.
 */
import type { ConformanceResult } from "./run-suite.ts";

export interface Comparison {
  /** Passed against the reference, not against the edge: what the edge still lacks. */
  missingOnEdge: string[];
  /** Passed against the edge, not against the reference (the reference's own gaps, or looser tests). */
  edgeOnly: string[];
}

export function compareRuns(reference: ConformanceResult, edge: ConformanceResult): Comparison {
  const edgePassed = new Set(edge.passed);
  const referencePassed = new Set(reference.passed);
  return {
    missingOnEdge: reference.passed.filter((name) => !edgePassed.has(name)),
    edgeOnly: edge.passed.filter((name) => !referencePassed.has(name)),
  };
}

export function counts(run: ConformanceResult): string {
  const seconds = (run.durationMs / 1000).toFixed(0);
  return `${run.passed.length} passed / ${run.failed.length} failed / ${run.skipped.length} skipped (${seconds} s)`;
}
