import { z } from "zod";

/** The manifest format this code understands; a package with another version is refused. */
export const MODEL_MANIFEST_FORMAT = "bd3lm-onnx";
export const MODEL_MANIFEST_VERSION = 1;

export const TokenizerKindSchema = z.enum(["bytes", "gpt2"]);
export type TokenizerKind = z.infer<typeof TokenizerKindSchema>;

export const GraphDtypeSchema = z.enum(["float32", "float16"]);
export type GraphDtype = z.infer<typeof GraphDtypeSchema>;

const TensorNameSchema = z.string().min(1).max(200);
const FileNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._-]+$/, { message: "graph file must be a plain file name inside the package" })
  .refine((name) => name !== "." && name !== "..", { message: "graph file must be a plain file name" });

/**
 * `manifest.json` of a model package (see docs/model-package.md): what the engine needs to run the denoiser
 * graph and to size its KV cache. Written by the Python exporter in `model/`.
 */
export const ModelManifestSchema = z
  .strictObject({
    format: z.literal(MODEL_MANIFEST_FORMAT),
    format_version: z.literal(MODEL_MANIFEST_VERSION),
    name: z.string().min(1).max(64),
    architecture: z.strictObject({
      num_layers: z.int().min(1).max(256),
      hidden_size: z.int().min(1).max(65_536),
      num_heads: z.int().min(1).max(256),
      head_dim: z.int().min(1).max(1_024),
      mlp_hidden_size: z.int().min(1).max(262_144),
    }),
    vocab_size: z.int().min(2).max(1_000_000),
    mask_token_id: z.int().min(0),
    bos_token_id: z.int().min(0),
    eos_token_id: z.int().min(0),
    tokenizer: z.strictObject({ kind: TokenizerKindSchema }),
    block_size: z.int().min(1).max(1_024),
    context_length: z.int().min(1).max(1_048_576),
    rotary_base: z.number().positive(),
    graphs: z
      .array(
        z.strictObject({
          dtype: GraphDtypeSchema,
          file: FileNameSchema,
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
          bytes: z.int().min(1),
        }),
      )
      .min(1),
    io: z.strictObject({
      inputs: z.strictObject({
        input_ids: TensorNameSchema,
        position_ids: TensorNameSchema,
        past_key: TensorNameSchema,
        past_value: TensorNameSchema,
        attention_mask: TensorNameSchema,
        /**
         * Optional: the graph takes int64 [M] flat indices (row * Q + step position) and returns logits [M, V]
         * for those rows only. Absent: logits for every step position, [B, Q, V].
         */
        logit_index: TensorNameSchema.optional(),
      }),
      outputs: z.strictObject({
        logits: TensorNameSchema,
        present_key: TensorNameSchema,
        present_value: TensorNameSchema,
        /**
         * Optional: float32 [..., 2] per logits row, [max, log-sum-exp] of the logits with [MASK] excluded, so
         * a sampler ranking positions by their top probability (exp(max - lse) at temperature 1) need not pass
         * over the vocabulary. Absent in packages exported before it existed.
         */
        logit_stats: TensorNameSchema.optional(),
      }),
    }),
    training: z
      .strictObject({
        objective: z.enum(["bd3lm", "ar"]),
        block_size: z.int().min(1),
        noise_interval: z.tuple([z.number(), z.number()]).optional(),
      })
      .optional(),
  })
  .superRefine((manifest, ctx) => {
    for (const field of ["mask_token_id", "bos_token_id", "eos_token_id"] as const) {
      if (manifest[field] >= manifest.vocab_size) {
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: `${field} must be below vocab_size (${manifest.vocab_size})`,
        });
      }
    }
    const { hidden_size, num_heads, head_dim } = manifest.architecture;
    if (num_heads * head_dim !== hidden_size) {
      ctx.addIssue({
        code: "custom",
        path: ["architecture", "head_dim"],
        message: "num_heads * head_dim must equal hidden_size",
      });
    }
    if (manifest.context_length % manifest.block_size !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["context_length"],
        message: "context_length must be a multiple of block_size",
      });
    }
    const dtypes = manifest.graphs.map((graph) => graph.dtype);
    if (new Set(dtypes).size !== dtypes.length) {
      ctx.addIssue({ code: "custom", path: ["graphs"], message: "at most one graph per dtype" });
    }
  });
export type ModelManifest = z.infer<typeof ModelManifestSchema>;
