import { JobStatusSchema, TERMINAL_JOB_STATUSES } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { type JobTransition, nextStatus } from "./state-machine.ts";

const TRANSITIONS: JobTransition[] = [
  "lease",
  "finish",
  "finish_canceled",
  "fail",
  "requeue",
  "cancel",
  "cancel_timeout",
  "expire",
];

describe("job state machine", () => {
  it("never moves a terminal status", () => {
    for (const status of TERMINAL_JOB_STATUSES) {
      for (const transition of TRANSITIONS) expect(nextStatus(status, transition)).toBeNull();
    }
  });

  it("follows queued -> running -> succeeded", () => {
    expect(nextStatus("queued", "lease")).toBe("running");
    expect(nextStatus("running", "lease")).toBe("running");
    expect(nextStatus("running", "finish")).toBe("succeeded");
  });

  it("refuses to finish a job nobody leased", () => {
    expect(nextStatus("queued", "finish")).toBeNull();
    expect(nextStatus("queued", "finish_canceled")).toBeNull();
  });

  it("cancels a queued job at once but a running one only through the worker or the deadline", () => {
    expect(nextStatus("queued", "cancel")).toBe("canceled");
    expect(nextStatus("running", "cancel")).toBeNull();
    expect(nextStatus("running", "finish_canceled")).toBe("canceled");
    expect(nextStatus("running", "cancel_timeout")).toBe("canceled");
  });

  it("lets any live job fail, requeue or expire", () => {
    for (const status of ["queued", "running"] as const) {
      expect(nextStatus(status, "fail")).toBe("failed");
      expect(nextStatus(status, "requeue")).toBe("queued");
      expect(nextStatus(status, "expire")).toBe("expired");
    }
  });

  it("only produces statuses of the shared schema", () => {
    for (const status of JobStatusSchema.options) {
      for (const transition of TRANSITIONS) {
        const next = nextStatus(status, transition);
        if (next !== null) expect(JobStatusSchema.options).toContain(next);
      }
    }
  });
});
