import { type ModelManifest, ModelManifestSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { kvLayoutFromManifest } from "../kv/layout.ts";
import { createBlockRandomness } from "../sampler/rng.ts";
import { createSoftmaxScratch } from "../sampler/softmax.ts";
import { createTokenizer } from "../tokenizer/index.ts";
import type { EngineContext } from "./context.ts";
import { createSequence, RequestRejectedError } from "./create-sequence.ts";
import { scheduleForward } from "./schedule.ts";

const manifest: ModelManifest = ModelManifestSchema.parse({
  format: "bd3lm-onnx",
  format_version: 1,
  name: "unit",
  architecture: { num_layers: 1, hidden_size: 4, num_heads: 1, head_dim: 4, mlp_hidden_size: 8 },
  vocab_size: 258,
  mask_token_id: 257,
  bos_token_id: 256,
  eos_token_id: 256,
  tokenizer: { kind: "bytes" },
  block_size: 4,
  context_length: 16,
  rotary_base: 10_000,
  graphs: [{ dtype: "float32", file: "model.onnx", sha256: "0".repeat(64), bytes: 1 }],
  io: {
    inputs: { input_ids: "a", position_ids: "b", past_key: "c", past_value: "d", attention_mask: "e" },
    outputs: { logits: "f", present_key: "g", present_value: "h" },
  },
});

const context: EngineContext = {
  manifest,
  blockSize: 4,
  windowBlocks: 4,
  maskTokenId: 257,
  bosTokenId: 256,
  eosTokenId: 256,
  vocabSize: 258,
  tokenizer: createTokenizer("bytes"),
  layout: kvLayoutFromManifest(manifest, "float32"),
  blockBytes: 2 * 4 * 4 * 4,
  minEntropyNats: 2,
  randomnessFor: (_id, seed, index) => createBlockRandomness(seed, index),
  scratch: createSoftmaxScratch(258),
};

const params = {
  max_tokens: 20,
  temperature: 1,
  top_p: 0.9,
  strategy: "first_hitting" as const,
  confidence_threshold: 0.95,
  stop: [],
  seed: 1,
};

describe("sequence layout", () => {
  it("splits BOS + prompt into full blocks to cache and a tail that opens the first block", () => {
    const sequence = createSequence({ requestId: "a", prompt: "abcdefg", params }, context);
    expect(sequence.cleanQueue.map((block) => Array.from(block.tokens))).toEqual([
      [256, 97, 98, 99],
      [100, 101, 102, 103],
    ]);
    expect(sequence.block?.blockIndex).toBe(2);
    expect(sequence.block?.outputIndex).toBe(0);
    expect(sequence.block?.generate).toEqual([0, 1, 2, 3]);
    expect(sequence.promptTokens).toBe(7);
  });

  it("resumes after the committed tokens at the given output block", () => {
    const sequence = createSequence(
      { requestId: "a", prompt: "ab", params, committedTokenIds: [120, 121, 122, 123, 124], startBlockIndex: 2 },
      context,
    );
    // BOS a b | 120: block 0; 121..124: block 1; next block 2 at output index 2
    expect(sequence.cleanQueue).toHaveLength(2);
    expect(sequence.block).toMatchObject({ blockIndex: 2, outputIndex: 2 });
    expect(sequence.completionTokens).toBe(5);
    expect(sequence.stopping.remainingTokens).toBe(15);
  });

  it("reserves KV for at most the window minus the block being denoised", () => {
    expect(
      createSequence({ requestId: "a", prompt: "a", params: { ...params, max_tokens: 1000 } }, context).capacityBlocks,
    ).toBe(3);
    expect(
      createSequence({ requestId: "a", prompt: "a", params: { ...params, max_tokens: 2 } }, context).capacityBlocks,
    ).toBe(0);
  });

  it("rejects committed tokens that are not tokens of the model", () => {
    expect(() =>
      createSequence({ requestId: "a", prompt: "a", params, committedTokenIds: [257], startBlockIndex: 1 }, context),
    ).toThrow(RequestRejectedError);
  });
});

describe("scheduling", () => {
  it("alternates prefill forwards with the decoding sequences' forwards, then runs everyone's current block", () => {
    const long = createSequence({ requestId: "long", prompt: "x".repeat(30), params }, context);
    const short = createSequence({ requestId: "short", prompt: "ab", params }, context);
    long.status = "running";
    short.status = "running";
    const prefill = scheduleForward([long, short], 3);
    expect(prefill?.kind).toBe("prefill");
    expect(prefill?.rows.map((row) => row.requestId)).toEqual(["long"]);
    expect(prefill?.rows[0]?.segments.map((segment) => segment.kind)).toEqual(["clean", "clean", "clean"]);

    const interleaved = scheduleForward([long, short], 3, "prefill");
    expect(interleaved?.kind).toBe("decode");
    expect(interleaved?.rows.map((row) => row.requestId)).toEqual(["short"]);
    expect(scheduleForward([long], 3, "prefill")?.kind).toBe("prefill");

    long.cleanQueue.splice(0, long.cleanQueue.length - 1);
    const decode = scheduleForward([long, short], 3);
    expect(decode?.kind).toBe("decode");
    expect(decode?.rows.map((row) => row.segments.map((segment) => segment.kind))).toEqual([
      ["clean", "denoise"],
      ["denoise"],
    ]);
  });

  it("folds commits when at least half the batch commits, and commits alone otherwise", () => {
    const sequences = ["a", "b", "c"].map((requestId) => {
      const sequence = createSequence({ requestId, prompt: "xyz", params }, context);
      sequence.status = "running";
      sequence.cleanQueue = [];
      return sequence;
    });
    const kinds = () => scheduleForward(sequences, 3)?.rows.map((row) => row.segments.map((segment) => segment.kind));
    const [a, b] = sequences;
    if (!a || !b) throw new Error("unreachable");
    a.cleanQueue = [{ blockIndex: 0, tokens: new Int32Array(4) }];
    expect(kinds()).toEqual([["clean"], ["denoise"], ["denoise"]]);
    b.cleanQueue = [{ blockIndex: 0, tokens: new Int32Array(4) }];
    expect(kinds()).toEqual([["clean", "denoise"], ["clean", "denoise"], ["denoise"]]);
  });
});
