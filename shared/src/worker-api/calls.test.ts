import { describe, expect, it } from "vitest";
import {
  AppendBlockRequestSchema,
  FailRequestSchema,
  FinishRequestSchema,
  LeaseReplySchema,
  LeaseRequestSchema,
} from "./calls.ts";

describe("worker API schemas", () => {
  it("accepts a lease and its reply", () => {
    expect(LeaseRequestSchema.safeParse({ worker_id: "gpu-node-3/pod-a" }).success).toBe(true);
    expect(
      LeaseReplySchema.safeParse({
        epoch: 2,
        status: "running",
        committed_blocks: 1,
        committed_token_ids: [1, 2, 3],
        is_canceled: false,
      }).success,
    ).toBe(true);
  });

  it("defaults a missing final_finish_reason to null and accepts a block's finish reason", () => {
    const reply = { epoch: 2, status: "running", committed_blocks: 1, committed_token_ids: [1], is_canceled: false };
    expect(LeaseReplySchema.parse(reply).final_finish_reason).toBeNull();
    expect(LeaseReplySchema.parse({ ...reply, final_finish_reason: null }).final_finish_reason).toBeNull();
    expect(LeaseReplySchema.parse({ ...reply, final_finish_reason: "eos" }).final_finish_reason).toBe("eos");
    expect(LeaseReplySchema.safeParse({ ...reply, final_finish_reason: "canceled" }).success).toBe(false);
    expect(LeaseReplySchema.safeParse({ ...reply, final_finish_reason: "error" }).success).toBe(false);
  });

  it("takes an optional finish_reason on the block that ended generation, never error or canceled", () => {
    const append = { epoch: 1, block: { index: 0, text: "a", token_count: 1 }, token_ids: [97] };
    expect(AppendBlockRequestSchema.parse(append).finish_reason).toBeUndefined();
    for (const reason of ["eos", "stop_sequence", "repetition", "max_tokens"]) {
      expect(AppendBlockRequestSchema.safeParse({ ...append, finish_reason: reason }).success).toBe(true);
    }
    for (const reason of ["error", "canceled", null]) {
      expect(AppendBlockRequestSchema.safeParse({ ...append, finish_reason: reason }).success).toBe(false);
    }
  });

  it("rejects an append with epoch 0, a negative token id or too many tokens", () => {
    const block = { index: 0, text: "abc", token_count: 3 };
    expect(AppendBlockRequestSchema.safeParse({ epoch: 1, block, token_ids: [97, 98, 99] }).success).toBe(true);
    expect(AppendBlockRequestSchema.safeParse({ epoch: 0, block, token_ids: [] }).success).toBe(false);
    expect(AppendBlockRequestSchema.safeParse({ epoch: 1, block, token_ids: [-1] }).success).toBe(false);
    expect(AppendBlockRequestSchema.safeParse({ epoch: 1, block, token_ids: new Array(1025).fill(0) }).success).toBe(
      false,
    );
  });

  it("does not let a worker finish a job with the reason error", () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, forwards: 3 };
    expect(FinishRequestSchema.safeParse({ epoch: 1, finish_reason: "eos", usage }).success).toBe(true);
    expect(FinishRequestSchema.safeParse({ epoch: 1, finish_reason: "error", usage }).success).toBe(false);
  });

  it("allows a fail without a lease and defaults to not retryable", () => {
    expect(FailRequestSchema.parse({ code: "bad_message", message: "version 9" }).is_retryable).toBe(false);
    expect(FailRequestSchema.safeParse({ code: "", message: "x" }).success).toBe(false);
  });
});
