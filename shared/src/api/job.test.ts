import { describe, expect, it } from "vitest";
import { exampleJobView } from "../testing/examples.ts";
import { BlockPageSchema, BlockSchema } from "./block.ts";
import { ErrorBodySchema } from "./error.ts";
import { isTerminalJobStatus, JobListPageSchema, JobViewSchema } from "./job.ts";

describe("JobViewSchema", () => {
  it("accepts a running job", () => {
    expect(JobViewSchema.parse(exampleJobView)).toEqual(exampleJobView);
  });

  it("rejects an unknown status, a negative progress and a bad timestamp", () => {
    expect(JobViewSchema.safeParse({ ...exampleJobView, status: "paused" }).success).toBe(false);
    expect(JobViewSchema.safeParse({ ...exampleJobView, progress: { blocks: -1, tokens: 0 } }).success).toBe(false);
    expect(JobViewSchema.safeParse({ ...exampleJobView, created_at: "yesterday" }).success).toBe(false);
  });

  it("rejects ids with path characters", () => {
    expect(JobViewSchema.safeParse({ ...exampleJobView, id: "../x" }).success).toBe(false);
  });

  it("lists summaries without the text", () => {
    const { text: _text, ...summary } = exampleJobView;
    expect(
      JobListPageSchema.safeParse({ object: "list", data: [summary], has_more: false, next_cursor: null }).success,
    ).toBe(true);
    expect(
      JobListPageSchema.safeParse({ object: "list", data: [exampleJobView], has_more: false, next_cursor: null })
        .success,
    ).toBe(false);
  });
});

describe("job status", () => {
  it("marks exactly the four end states terminal", () => {
    expect(["queued", "running"].map((s) => isTerminalJobStatus(s as never))).toEqual([false, false]);
    expect(["succeeded", "failed", "canceled", "expired"].every((s) => isTerminalJobStatus(s as never))).toBe(true);
  });
});

describe("BlockSchema", () => {
  it("accepts a block with non-ASCII text", () => {
    expect(BlockSchema.safeParse({ index: 0, text: "Ève 🌍", token_count: 3 }).success).toBe(true);
  });

  it("rejects a negative or fractional index, unknown fields and oversize text", () => {
    expect(BlockSchema.safeParse({ index: -1, text: "", token_count: 0 }).success).toBe(false);
    expect(BlockSchema.safeParse({ index: 0.5, text: "", token_count: 0 }).success).toBe(false);
    expect(BlockSchema.safeParse({ index: 0, text: "", token_count: 0, extra: 1 }).success).toBe(false);
    expect(BlockSchema.safeParse({ index: 0, text: "a".repeat(65_537), token_count: 1 }).success).toBe(false);
  });

  it("pages blocks", () => {
    const page = { object: "list", data: [{ index: 3, text: "x", token_count: 1 }], has_more: true, next_after: 3 };
    expect(BlockPageSchema.parse(page)).toEqual(page);
  });
});

describe("ErrorBodySchema", () => {
  it("accepts the documented error shape with and without param", () => {
    expect(
      ErrorBodySchema.safeParse({ error: { type: "invalid_request_error", message: "bad", param: "prompt" } }).success,
    ).toBe(true);
    expect(
      ErrorBodySchema.safeParse({ error: { type: "conflict_error", message: "x", code: "stale_epoch" } }).success,
    ).toBe(true);
  });

  it("rejects an unknown error type or a flat body", () => {
    expect(ErrorBodySchema.safeParse({ error: { type: "oops", message: "x" } }).success).toBe(false);
    expect(ErrorBodySchema.safeParse({ type: "api_error", message: "x" }).success).toBe(false);
  });
});
