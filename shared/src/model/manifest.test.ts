import { describe, expect, it } from "vitest";
import { ModelManifestSchema } from "./manifest.ts";

const manifest = {
  format: "bd3lm-onnx",
  format_version: 1,
  name: "kjv-bd3lm-b16",
  architecture: { num_layers: 4, hidden_size: 192, num_heads: 4, head_dim: 48, mlp_hidden_size: 768 },
  vocab_size: 258,
  mask_token_id: 257,
  bos_token_id: 256,
  eos_token_id: 256,
  tokenizer: { kind: "bytes" },
  block_size: 16,
  context_length: 256,
  rotary_base: 10000,
  graphs: [{ dtype: "float32", file: "model.onnx", sha256: "a".repeat(64), bytes: 100 }],
  io: {
    inputs: {
      input_ids: "input_ids",
      position_ids: "position_ids",
      past_key: "past_key",
      past_value: "past_value",
      attention_mask: "attention_mask",
    },
    outputs: { logits: "logits", present_key: "present_key", present_value: "present_value" },
  },
};

function issuePaths(candidate: unknown): string[] {
  const result = ModelManifestSchema.safeParse(candidate);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join("."));
}

describe("ModelManifestSchema", () => {
  it("accepts the documented example", () => {
    expect(issuePaths(manifest)).toEqual([]);
  });

  it("accepts io.inputs with or without the optional logit_index", () => {
    expect("logit_index" in manifest.io.inputs).toBe(false);
    const parsed = ModelManifestSchema.parse(manifest);
    expect(parsed.io.inputs.logit_index).toBeUndefined();
    const withIndex = {
      ...manifest,
      io: { ...manifest.io, inputs: { ...manifest.io.inputs, logit_index: "logit_index" } },
    };
    expect(ModelManifestSchema.parse(withIndex).io.inputs.logit_index).toBe("logit_index");
    expect(
      issuePaths({ ...withIndex, io: { ...withIndex.io, inputs: { ...withIndex.io.inputs, logit_index: "" } } }),
    ).toEqual(["io.inputs.logit_index"]);
    expect(
      issuePaths({ ...manifest, io: { ...manifest.io, inputs: { ...manifest.io.inputs, logits_index: "x" } } }),
    ).toEqual(["io.inputs"]);
  });

  it("accepts io.outputs with or without the optional logit_stats, naming it when malformed", () => {
    const withStats = {
      ...manifest,
      io: { ...manifest.io, outputs: { ...manifest.io.outputs, logit_stats: "logit_stats" } },
    };
    expect(ModelManifestSchema.parse(manifest).io.outputs.logit_stats).toBeUndefined();
    expect(ModelManifestSchema.parse(withStats).io.outputs.logit_stats).toBe("logit_stats");
    expect(
      issuePaths({ ...withStats, io: { ...withStats.io, outputs: { ...withStats.io.outputs, logit_stats: 3 } } }),
    ).toEqual(["io.outputs.logit_stats"]);
  });

  it("refuses another format version or format, naming the field", () => {
    expect(issuePaths({ ...manifest, format_version: 2 })).toEqual(["format_version"]);
    expect(issuePaths({ ...manifest, format: "gguf" })).toEqual(["format"]);
  });

  it("refuses an unknown tokenizer and unknown fields", () => {
    expect(issuePaths({ ...manifest, tokenizer: { kind: "sentencepiece" } })).toEqual(["tokenizer.kind"]);
    expect(issuePaths({ ...manifest, quantization: "int4" })).toEqual([""]);
  });

  it("refuses special ids outside the vocabulary and inconsistent shapes", () => {
    expect(issuePaths({ ...manifest, mask_token_id: 258 })).toEqual(["mask_token_id"]);
    expect(issuePaths({ ...manifest, architecture: { ...manifest.architecture, head_dim: 47 } })).toEqual([
      "architecture.head_dim",
    ]);
    expect(issuePaths({ ...manifest, context_length: 250 })).toEqual(["context_length"]);
  });

  it("refuses graph files that escape the package folder and duplicate dtypes", () => {
    const graph = manifest.graphs[0];
    expect(issuePaths({ ...manifest, graphs: [{ ...graph, file: "../x.onnx" }] })).toEqual(["graphs.0.file"]);
    expect(issuePaths({ ...manifest, graphs: [graph, graph] })).toEqual(["graphs"]);
    expect(issuePaths({ ...manifest, graphs: [] })).toEqual(["graphs"]);
  });
});
