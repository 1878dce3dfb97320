/**
 * Loads a model package folder (docs/model-package.md): reads and validates `manifest.json` with the shared
 * schema, checks that the tokenizer ids agree with the tokenizer kind, and locates and verifies the graph of
 * the requested dtype (size and sha256). Every refusal names the field or file it is about.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type GraphDtype, type ModelManifest, ModelManifestSchema } from "@bd3-serve/shared";
import { ModelPackageError } from "./errors.ts";

export interface ModelPackage {
  dir: string;
  manifest: ModelManifest;
  dtype: GraphDtype;
  graphPath: string;
}

/** Token ids each tokenizer kind implies (docs/model-package.md). */
const TOKENIZER_IDS = {
  bytes: { vocab_size: 258, mask_token_id: 257, bos_token_id: 256, eos_token_id: 256 },
  gpt2: { vocab_size: 50_258, mask_token_id: 50_257, bos_token_id: 50_256, eos_token_id: 50_256 },
} as const;

/** Validates a parsed manifest; throws a ModelPackageError naming the first bad field. */
export function parseManifest(raw: unknown, source = "manifest.json"): ModelManifest {
  const parsed = ModelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join(".") : "(root)";
    throw new ModelPackageError(`${source}: unsupported field "${field}": ${issue?.message ?? "invalid"}`);
  }
  const manifest = parsed.data;
  const expected = TOKENIZER_IDS[manifest.tokenizer.kind];
  for (const field of ["vocab_size", "mask_token_id", "bos_token_id", "eos_token_id"] as const) {
    if (manifest[field] !== expected[field]) {
      throw new ModelPackageError(
        `${source}: unsupported field "${field}": ${manifest[field]} does not match tokenizer "${manifest.tokenizer.kind}" (expects ${expected[field]})`,
      );
    }
  }
  return manifest;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface LoadModelPackageOptions {
  dtype?: GraphDtype;
  /** Verify the graph's sha256 (reads the whole file); default true. */
  verifyChecksum?: boolean;
}

export async function loadModelPackage(dir: string, options: LoadModelPackageOptions = {}): Promise<ModelPackage> {
  const dtype = options.dtype ?? "float32";
  const manifestPath = join(dir, "manifest.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, "utf8"));
  } catch (error) {
    throw new ModelPackageError(`cannot read ${manifestPath}: ${(error as Error).message}`, { cause: error });
  }
  const manifest = parseManifest(raw, manifestPath);
  const graph = manifest.graphs.find((candidate) => candidate.dtype === dtype);
  if (!graph) {
    const available = manifest.graphs.map((candidate) => candidate.dtype).join(", ");
    throw new ModelPackageError(`${manifestPath}: field "graphs" has no ${dtype} graph (has ${available})`);
  }
  const graphPath = join(dir, graph.file);
  const info = await stat(graphPath).catch((error: unknown) => {
    throw new ModelPackageError(`graph file ${graphPath} is missing`, { cause: error });
  });
  if (info.size !== graph.bytes) {
    throw new ModelPackageError(
      `${manifestPath}: field "graphs.bytes" says ${graph.bytes} but ${graph.file} has ${info.size} bytes`,
    );
  }
  if (options.verifyChecksum ?? true) {
    const digest = await sha256File(graphPath);
    if (digest !== graph.sha256) {
      throw new ModelPackageError(`${manifestPath}: field "graphs.sha256" does not match ${graph.file} (${digest})`);
    }
  }
  return { dir, manifest, dtype, graphPath };
}
