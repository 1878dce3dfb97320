import { describe, expect, it } from "vitest";
import { createByteTokenizer } from "../tokenizer/bytes.ts";
import { IncrementalDetokenizer } from "../tokenizer/index.ts";
import { isDegenerateRepetition, tokenEntropyNats } from "./entropy.ts";
import { finishBlock, type StoppingState } from "./finish-block.ts";
import { findStopSequence, heldBackLength } from "./stop-sequences.ts";

const bytes = (text: string) => Array.from(new TextEncoder().encode(text));

function state(overrides: Partial<StoppingState> = {}): StoppingState {
  return {
    eosTokenId: 256,
    remainingTokens: 100,
    stops: [],
    pendingText: "",
    recentTokens: [],
    minEntropyNats: 2,
    ...overrides,
  };
}

describe("entropy check", () => {
  it("measures the token histogram in nats", () => {
    expect(tokenEntropyNats([1, 1, 1, 1])).toBe(0);
    expect(tokenEntropyNats([1, 2, 3, 4])).toBeCloseTo(Math.log(4), 12);
  });

  it("flags a degenerate loop only once a full window of 256 tokens exists", () => {
    const loop = Array.from({ length: 256 }, (_, i) => i % 3);
    expect(isDegenerateRepetition(loop.slice(0, 255), 2)).toBe(false);
    expect(isDegenerateRepetition(loop, 2)).toBe(true);
    const varied = Array.from({ length: 256 }, (_, i) => (i * 37) % 200);
    expect(isDegenerateRepetition(varied, 4)).toBe(false);
  });
});

describe("stop sequences", () => {
  it("finds the earliest stop", () => {
    expect(findStopSequence("abc END x STOP", ["STOP", "END"])).toEqual({ index: 4, stop: "END" });
    expect(findStopSequence("nothing here", ["STOP"])).toBeNull();
    expect(heldBackLength("the end. ST", ["STOP", "\n\n"])).toBe(2);
    expect(heldBackLength("line\n", ["STOP", "\n\n"])).toBe(1);
    expect(heldBackLength("nothing", ["STOP"])).toBe(0);
  });
});

describe("closing a block", () => {
  it("drops the first EOS and everything after it", () => {
    const result = finishBlock(
      [...bytes("ab"), 256, ...bytes("cd")],
      state(),
      new IncrementalDetokenizer(createByteTokenizer()),
    );
    expect(result).toEqual({ tokenIds: bytes("ab"), text: "ab", finishReason: "eos", pendingText: "" });
  });

  it("cuts at max_tokens", () => {
    const result = finishBlock(
      bytes("abcdef"),
      state({ remainingTokens: 4 }),
      new IncrementalDetokenizer(createByteTokenizer()),
    );
    expect(result).toEqual({ tokenIds: bytes("abcd"), text: "abcd", finishReason: "max_tokens", pendingText: "" });
  });

  it("cuts the text before a stop sequence", () => {
    const detokenizer = new IncrementalDetokenizer(createByteTokenizer());
    const inside = finishBlock(bytes("one. END two"), state({ stops: ["END"] }), detokenizer);
    expect(inside).toEqual({ tokenIds: bytes("one. "), text: "one. ", finishReason: "stop_sequence", pendingText: "" });
  });

  it("holds back text that may begin a stop sequence, and never emits a stop spanning blocks", () => {
    const detokenizer = new IncrementalDetokenizer(createByteTokenizer());
    const first = finishBlock(bytes("one. EN"), state({ stops: ["END"] }), detokenizer);
    expect(first).toEqual({ tokenIds: bytes("one. EN"), text: "one. ", finishReason: null, pendingText: "EN" });
    const second = finishBlock(bytes("D more"), state({ stops: ["END"], pendingText: "EN" }), detokenizer);
    expect(second).toEqual({ tokenIds: [], text: "", finishReason: "stop_sequence", pendingText: "" });

    const falseAlarm = finishBlock(bytes("Dless"), state({ stops: ["ENDS"], pendingText: "EN" }), detokenizer);
    expect(falseAlarm.text).toBe("ENDless");
  });

  it("releases held-back text when the document ends for another reason", () => {
    const detokenizer = new IncrementalDetokenizer(createByteTokenizer());
    const last = finishBlock(
      bytes("ab"),
      state({ stops: ["END"], pendingText: "EN", remainingTokens: 2 }),
      detokenizer,
    );
    expect(last).toEqual({ tokenIds: bytes("ab"), text: "ENab", finishReason: "max_tokens", pendingText: "" });
  });

  it("stops on degenerate repetition", () => {
    const recent = Array.from({ length: 250 }, () => 97);
    const result = finishBlock(
      bytes("aaaaaaaa"),
      state({ recentTokens: recent }),
      new IncrementalDetokenizer(createByteTokenizer()),
    );
    expect(result.finishReason).toBe("repetition");
  });

  it("keeps going when nothing applies", () => {
    const result = finishBlock(bytes("fine"), state(), new IncrementalDetokenizer(createByteTokenizer()));
    expect(result.finishReason).toBeNull();
  });
});
