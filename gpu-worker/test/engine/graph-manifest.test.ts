import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.ts";
import { ModelPackageError } from "../../src/engine/model/errors.ts";
import { checkGraphSignature } from "../../src/engine/model/graph-signature.ts";
import { parseManifest } from "../../src/engine/model/model-package.ts";
import type { DenoiserRunner, ForwardInputs } from "../../src/engine/model/runner.ts";
import { warmUp } from "../../src/engine/model/warm-up.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, tokensOf } from "./support/run.ts";

type Manifest = Record<string, unknown> & { architecture: Record<string, number>; graphs: Record<string, unknown>[] };

/** The engine as the worker opens it, on a package folder. */
const open = (modelDir: string, dtype: "float32" | "float16" = "float32") =>
  createEngine({ modelDir, dtype, intraOpNumThreads: 1, samplerThreads: 0 });

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("a manifest that does not match its graph is refused at load", () => {
  let original: Manifest;
  let dir: string;

  beforeAll(async () => {
    original = JSON.parse(await readFile(join(TINY_PACKAGE_DIR, "manifest.json"), "utf8"));
    dir = await mkdtemp(join(tmpdir(), "bd3-graph-manifest-"));
    await cp(TINY_PACKAGE_DIR, dir, { recursive: true });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Writes the copy's manifest with `edit` applied (the graphs are the committed ones, untouched). */
  async function withManifest(edit: (manifest: Manifest) => void): Promise<string> {
    const manifest = structuredClone(original);
    edit(manifest);
    await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
    return dir;
  }

  async function refusal(dtype: "float32" | "float16" = "float32"): Promise<ModelPackageError> {
    const error = await open(dir, dtype).then(
      async (engine) => {
        await engine.close();
        return null;
      },
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ModelPackageError);
    return error as ModelPackageError;
  }

  it("loads the untouched copy and generates from both graphs", async () => {
    await withManifest(() => {});
    for (const dtype of ["float32", "float16"] as const) {
      const engine = await open(dir, dtype);
      engine.addRequest({ requestId: dtype, prompt: "Hi", params: params({ seed: 2, max_tokens: 8 }) });
      const blocks = (await drain(engine)).get(dtype) ?? [];
      await engine.close();
      expect(tokensOf(blocks)).toHaveLength(8);
    }
  });

  it("loads a package that ships only the graph it serves (docs/real-models.md: a smaller image)", async () => {
    const only = await mkdtemp(join(tmpdir(), "bd3-graph-only-"));
    try {
      await cp(TINY_PACKAGE_DIR, only, { recursive: true });
      await rm(join(only, "model.onnx"));
      const engine = await open(only, "float16");
      await engine.close();
      await expect(open(only, "float32")).rejects.toThrow(/graph file .*model\.onnx is missing/);
    } finally {
      await rm(only, { recursive: true, force: true });
    }
  });

  it("refuses num_layers the graph does not have, naming the field and both values", async () => {
    await withManifest((manifest) => {
      manifest.architecture.num_layers = 3;
    });
    expect((await refusal()).message).toMatch(
      /model\.onnx: manifest field "architecture\.num_layers" is 3, the graph's past_key has 2 layers/,
    );
  });

  it("refuses num_heads (and head_dim) the graph does not have", async () => {
    await withManifest((manifest) => {
      Object.assign(manifest.architecture, { num_heads: 4, hidden_size: 64 });
    });
    expect((await refusal()).message).toMatch(
      /manifest field "architecture\.num_heads" is 4, the graph's past_key has 2/,
    );
    await withManifest((manifest) => {
      Object.assign(manifest.architecture, { head_dim: 32, hidden_size: 64 });
    });
    expect((await refusal("float16")).message).toMatch(
      /model\.fp16\.onnx: manifest field "architecture\.head_dim" is 32, the graph's past_key has 16/,
    );
  });

  it("refuses a vocabulary the graph's logits do not have", async () => {
    // The GPT-2 ids, consistent among themselves, over the bytes graph: only the graph can tell.
    await withManifest((manifest) => {
      Object.assign(manifest, {
        tokenizer: { kind: "gpt2" },
        vocab_size: 50_258,
        mask_token_id: 50_257,
        bos_token_id: 50_256,
        eos_token_id: 50_256,
      });
    });
    expect((await refusal()).message).toMatch(/manifest field "vocab_size" is 50258, the graph's logits has 258/);
  });

  it("refuses the float16 graph filed under the float32 entry, and the reverse", async () => {
    const graphs = original.graphs as { dtype: string; file: string }[];
    const described = async (file: string) => {
      const bytes = await readFile(join(dir, file));
      return { file, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
    };
    // Checksum and size agree with the file, so only the graph itself is wrong for its entry.
    const fp16 = await described("model.fp16.onnx");
    const fp32 = await described("model.onnx");
    await withManifest((manifest) => {
      manifest.graphs = graphs.map((graph) => ({ ...graph, ...(graph.dtype === "float32" ? fp16 : fp32) }));
    });
    expect((await refusal("float32")).message).toMatch(
      /model\.fp16\.onnx: manifest field "graphs\.dtype" is float32, the graph's past_key is float16/,
    );
    expect((await refusal("float16")).message).toMatch(
      /model\.onnx: manifest field "graphs\.dtype" is float16, the graph's past_key is float32/,
    );
  });
});

describe("graph signature check", () => {
  const manifest = parseManifest({
    format: "bd3lm-onnx",
    format_version: 1,
    name: "t",
    architecture: { num_layers: 2, hidden_size: 32, num_heads: 2, head_dim: 16, mlp_hidden_size: 128 },
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
      inputs: {
        input_ids: "input_ids",
        position_ids: "position_ids",
        past_key: "past_key",
        past_value: "past_value",
        attention_mask: "attention_mask",
        logit_index: "logit_index",
      },
      outputs: { logits: "logits", present_key: "present_key", present_value: "present_value" },
    },
  });
  const tensor = (name: string, type: string, shape: (number | string)[]) =>
    ({ name, isTensor: true, type, shape }) as InferenceSession.ValueMetadata;
  const graph = (overrides: Record<string, InferenceSession.ValueMetadata> = {}) => {
    const pick = (meta: InferenceSession.ValueMetadata) => overrides[meta.name] ?? meta;
    return {
      inputMetadata: [
        tensor("input_ids", "int64", ["batch", "step"]),
        tensor("position_ids", "int64", ["batch", "step"]),
        tensor("past_key", "float32", [2, "batch", 2, "past", 16]),
        tensor("past_value", "float32", [2, "batch", 2, "past", 16]),
        tensor("attention_mask", "bool", ["batch", "step", "total"]),
        tensor("logit_index", "int64", ["m"]),
      ].map(pick),
      outputMetadata: [
        tensor("logits", "float32", ["m", 258]),
        tensor("present_key", "float32", [2, "batch", 2, "step", 16]),
        tensor("present_value", "float32", [2, "batch", 2, "step", 16]),
      ].map(pick),
    };
  };

  it("accepts the contract, symbolic dimensions and undeclared shapes", () => {
    expect(() => checkGraphSignature(graph(), manifest, "float32")).not.toThrow();
    // An older export left the heads of present_key symbolic; warm-up checks the returned size instead.
    const symbolic = { present_key: tensor("present_key", "float32", [2, "batch", "heads", "step", 16]) };
    expect(() => checkGraphSignature(graph(symbolic), manifest, "float32")).not.toThrow();
    const unknown = { logits: tensor("logits", "float32", []) };
    expect(() => checkGraphSignature(graph(unknown), manifest, "float32")).not.toThrow();
  });

  it("names the field, the manifest's value and the graph's", () => {
    const cases: [Record<string, InferenceSession.ValueMetadata>, RegExp][] = [
      [
        { present_value: tensor("present_value", "float16", [2, "b", 2, "s", 16]) },
        /"graphs\.dtype" is float32.*present_value is float16/,
      ],
      [
        { present_key: tensor("present_key", "float32", [2, "b", 3, "s", 16]) },
        /"architecture\.num_heads" is 2.*present_key has 3 heads/,
      ],
      [{ logits: tensor("logits", "float32", ["m", 50_258]) }, /"vocab_size" is 258, the graph's logits has 50258/],
      [{ logits: tensor("logits", "float32", ["b", "q", 258]) }, /"io\.outputs\.logits".*3 dimensions.*\[M, V\]/],
      [{ input_ids: tensor("input_ids", "int32", ["b", "q"]) }, /"io\.inputs\.input_ids".*int32.*int64/],
      [
        { attention_mask: tensor("attention_mask", "uint8", ["b", "q", "t"]) },
        /"io\.inputs\.attention_mask".*uint8.*bool/,
      ],
    ];
    for (const [overrides, message] of cases) {
      expect(() => checkGraphSignature(graph(overrides), manifest, "float32", "g.onnx")).toThrow(message);
    }
  });

  it("warm-up refuses present K/V whose size disagrees with the manifest", async () => {
    const fake = (perToken: number): DenoiserRunner => ({
      executionProvider: "cpu",
      kvDtype: "float32",
      takesLogitIndex: true,
      run: async (inputs: ForwardInputs) => ({
        logits: new Float32Array(258),
        presentKey: new Float32Array(perToken * inputs.stepLength),
        presentValue: new Float32Array(perToken * inputs.stepLength),
        bytesIn: 0,
        bytesOut: 0,
      }),
      close: async () => {},
    });
    await expect(warmUp(fake(2 * 2 * 16), manifest, 1)).resolves.toBeUndefined();
    await expect(warmUp(fake(3 * 2 * 16), manifest, 1)).rejects.toThrow(
      /"architecture\.num_layers" x "architecture\.num_heads" x "architecture\.head_dim" are 2 x 2 x 16 = 64 values per token, the graph's present_key returned 96/,
    );
  });
});
