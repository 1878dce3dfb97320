import { describe, expect, it } from "vitest";
import { judgeProducer } from "./producer.ts";

const request = (epoch: number, seq: number) => ({ producerId: "p", epoch, seq });

describe("judgeProducer", () => {
  it("accepts a new producer only at sequence 0", () => {
    expect(judgeProducer(null, request(3, 0))).toEqual({ kind: "accepted", next: { epoch: 3, lastSeq: 0 } });
    expect(judgeProducer(null, request(3, 1))).toEqual({ kind: "sequence_gap", expectedSeq: 0, receivedSeq: 1 });
  });

  it("accepts the next sequence, answers duplicate at or below the last one, and a gap beyond", () => {
    const state = { epoch: 2, lastSeq: 4 };
    expect(judgeProducer(state, request(2, 5))).toEqual({ kind: "accepted", next: { epoch: 2, lastSeq: 5 } });
    expect(judgeProducer(state, request(2, 4))).toEqual({ kind: "duplicate", lastSeq: 4 });
    expect(judgeProducer(state, request(2, 0))).toEqual({ kind: "duplicate", lastSeq: 4 });
    expect(judgeProducer(state, request(2, 7))).toEqual({ kind: "sequence_gap", expectedSeq: 5, receivedSeq: 7 });
  });

  it("fences an older epoch and lets a newer one start over at 0", () => {
    const state = { epoch: 2, lastSeq: 4 };
    expect(judgeProducer(state, request(1, 5))).toEqual({ kind: "stale_epoch", currentEpoch: 2 });
    expect(judgeProducer(state, request(3, 0))).toEqual({ kind: "accepted", next: { epoch: 3, lastSeq: 0 } });
    expect(judgeProducer(state, request(3, 1))).toEqual({ kind: "invalid_epoch_seq" });
  });
});
