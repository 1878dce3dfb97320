import { describe, expect, it } from "vitest";
import { JobMessageEnvelopeSchema, JobMessageSchema } from "./job-message.ts";

const message = {
  version: 1,
  job_id: "gen_1",
  capability: "c".repeat(43),
  model: "kjv-bd3lm-b16",
  prompt: "In the beginning",
  params: {
    max_tokens: 64,
    temperature: 1,
    top_p: 0.9,
    strategy: "first_hitting",
    confidence_threshold: 0.95,
    seed: 1234,
    stop: [],
  },
  enqueued_at: "2026-11-28T10:00:00.000Z",
};

describe("JobMessageSchema", () => {
  it("accepts a version 1 message and defaults the continuation count", () => {
    expect(JobMessageSchema.parse(message).continuation).toBe(0);
  });

  it("refuses another version, a missing seed and unknown fields", () => {
    expect(JobMessageSchema.safeParse({ ...message, version: 2 }).error?.issues[0]?.path).toEqual(["version"]);
    const { seed: _seed, ...paramsWithoutSeed } = message.params;
    expect(JobMessageSchema.safeParse({ ...message, params: paramsWithoutSeed }).error?.issues[0]?.path).toEqual([
      "params",
      "seed",
    ]);
    expect(JobMessageSchema.safeParse({ ...message, urgency: 1 }).success).toBe(false);
  });

  it("carries the priority of the queue it was sent to (absent from older edges), in range", () => {
    expect(JobMessageSchema.parse({ ...message, priority: 2 }).priority).toBe(2);
    expect(JobMessageSchema.parse(message).priority).toBeUndefined();
    expect(JobMessageSchema.safeParse({ ...message, priority: 3 }).error?.issues[0]?.path).toEqual(["priority"]);
  });

  it("keeps enough of an unsupported message to fail it on the edge", () => {
    const future = { version: 9, job_id: "gen_1", capability: "c".repeat(43), shape: "new" };
    expect(JobMessageSchema.safeParse(future).success).toBe(false);
    expect(JobMessageEnvelopeSchema.parse(future).job_id).toBe("gen_1");
    expect(JobMessageEnvelopeSchema.safeParse({ version: 1 }).success).toBe(false);
  });
});
