/**
 * The graph's declared inputs and outputs (onnxruntime's session metadata) against its manifest: the element
 * type of every tensor and every fixed dimension the manifest implies (layers, heads, head dim, vocabulary),
 * so a package whose manifest describes another graph (edited by hand, copied from another export, or the
 * float16 graph filed under the float32 entry) is refused at load, before any job, with the manifest field,
 * its value and the graph's value in the message. A graph that leaves one of these dimensions symbolic passes
 * here; warm-up.ts then checks the sizes of what its forwards return.
 */
import type { ModelManifest } from "@bd3-serve/shared";
import type { InferenceSession } from "onnxruntime-node";
import type { KvDtype } from "../kv/layout.ts";
import { ModelPackageError } from "./errors.ts";

type ValueMetadata = InferenceSession.ValueMetadata;

/** A dimension the contract fixes: from a manifest field, or (no field) by the contract itself. */
interface FixedDim {
  axis: number;
  /** The size: the manifest field's value, or the contract's. */
  value: number;
  /** The manifest field the size comes from, e.g. "architecture.num_heads"; absent: fixed by the contract. */
  field?: string;
  /** What the dimension counts, for the message ("layers", "heads"). */
  counts: string;
}

interface Expected {
  /** The manifest's io field naming this tensor, e.g. "io.inputs.past_key". */
  role: string;
  name: string;
  type: string;
  /** The manifest field the element type follows ("graphs.dtype" for K/V); absent: fixed by the contract. */
  typeField?: string;
  /** The contract's shape, for messages. */
  contract: string;
  rank: number;
  dims: FixedDim[];
}

function expectations(manifest: ModelManifest, dtype: KvDtype): { inputs: Expected[]; outputs: Expected[] } {
  const { num_layers, num_heads, head_dim } = manifest.architecture;
  const { inputs, outputs } = manifest.io;
  const flat = inputs.logit_index !== undefined;
  const kvDims: FixedDim[] = [
    { axis: 0, value: num_layers, field: "architecture.num_layers", counts: "layers" },
    { axis: 2, value: num_heads, field: "architecture.num_heads", counts: "heads" },
    { axis: 4, value: head_dim, field: "architecture.head_dim", counts: "values per head" },
  ];
  const kv = (role: string, name: string, tokens: string): Expected => ({
    role,
    name,
    type: dtype,
    typeField: "graphs.dtype",
    contract: `[L, B, H, ${tokens}, D]`,
    rank: 5,
    dims: kvDims,
  });
  const ids = (role: string, name: string): Expected => ({
    role,
    name,
    type: "int64",
    contract: "[B, Q]",
    rank: 2,
    dims: [],
  });
  return {
    inputs: [
      ids("io.inputs.input_ids", inputs.input_ids),
      ids("io.inputs.position_ids", inputs.position_ids),
      kv("io.inputs.past_key", inputs.past_key, "P"),
      kv("io.inputs.past_value", inputs.past_value, "P"),
      {
        role: "io.inputs.attention_mask",
        name: inputs.attention_mask,
        type: "bool",
        contract: "[B, Q, P + Q]",
        rank: 3,
        dims: [],
      },
      ...(inputs.logit_index !== undefined
        ? [
            {
              role: "io.inputs.logit_index",
              name: inputs.logit_index,
              type: "int64",
              contract: "[M]",
              rank: 1,
              dims: [],
            },
          ]
        : []),
    ],
    outputs: [
      {
        role: "io.outputs.logits",
        name: outputs.logits,
        type: "float32",
        contract: flat ? "[M, V]" : "[B, Q, V]",
        rank: flat ? 2 : 3,
        dims: [{ axis: flat ? 1 : 2, value: manifest.vocab_size, field: "vocab_size", counts: "logits per row" }],
      },
      kv("io.outputs.present_key", outputs.present_key, "Q"),
      kv("io.outputs.present_value", outputs.present_value, "Q"),
      ...(outputs.logit_stats !== undefined
        ? [
            {
              role: "io.outputs.logit_stats",
              name: outputs.logit_stats,
              type: "float32",
              contract: flat ? "[M, 2]" : "[B, Q, 2]",
              rank: flat ? 2 : 3,
              dims: [{ axis: flat ? 1 : 2, value: 2, counts: "values per row" }],
            },
          ]
        : []),
    ],
  };
}

const shapeText = (shape: ReadonlyArray<number | string>) => `[${shape.join(", ")}]`;

function checkOne(expected: Expected, meta: ValueMetadata, prefix: string): void {
  const { role, name } = expected;
  if (!meta.isTensor) {
    throw new ModelPackageError(
      `${prefix}manifest field "${role}" names "${name}", which is not a tensor in the graph`,
    );
  }
  if (meta.type !== expected.type) {
    throw new ModelPackageError(
      expected.typeField === "graphs.dtype"
        ? `${prefix}manifest field "graphs.dtype" is ${expected.type}, the graph's ${name} is ${meta.type} (the float16 ` +
            "graph keeps past/present K/V as float16, the float32 graph as float32)"
        : `${prefix}manifest field "${role}" names "${name}", which the graph has as ${meta.type}; the contract ` +
            `(docs/model-package.md) says ${expected.type}`,
    );
  }
  // No declared shape at all: nothing to compare here (warm-up.ts checks what the graph returns).
  if (meta.shape.length === 0) return;
  if (meta.shape.length !== expected.rank) {
    throw new ModelPackageError(
      `${prefix}manifest field "${role}" names "${name}", which the graph has with ${meta.shape.length} dimensions ` +
        `${shapeText(meta.shape)}; the contract says ${expected.rank}: ${expected.contract}`,
    );
  }
  for (const dim of expected.dims) {
    const actual = meta.shape[dim.axis];
    if (typeof actual !== "number" || actual === dim.value) continue;
    const where = `(dimension ${dim.axis} of ${shapeText(meta.shape)}, ${expected.contract})`;
    throw new ModelPackageError(
      dim.field !== undefined
        ? `${prefix}manifest field "${dim.field}" is ${dim.value}, the graph's ${name} has ${actual} ${dim.counts} ${where}`
        : `${prefix}manifest field "${role}" names "${name}", which has ${actual} ${dim.counts} in the graph ${where}; ` +
            `the contract says ${dim.value}`,
    );
  }
}

/**
 * Throws a ModelPackageError at the first tensor whose declared type or fixed dimensions disagree with the
 * manifest. Tensors the graph does not declare are left to the name checks (ort-session.ts), which know which
 * ones are optional. `file` names the graph in the message.
 */
export function checkGraphSignature(
  metadata: { inputMetadata: readonly ValueMetadata[]; outputMetadata: readonly ValueMetadata[] },
  manifest: ModelManifest,
  dtype: KvDtype,
  file?: string,
): void {
  const prefix = file !== undefined ? `${file}: ` : "";
  const { inputs, outputs } = expectations(manifest, dtype);
  for (const [list, declared] of [
    [inputs, metadata.inputMetadata],
    [outputs, metadata.outputMetadata],
  ] as const) {
    for (const expected of list) {
      const meta = declared.find((candidate) => candidate.name === expected.name);
      if (meta) checkOne(expected, meta, prefix);
    }
  }
}
