/**
 * The edge's `MODELS` var for the local stack, from the model packages themselves: `<name>:<block_size>:<context>`
 * of every package under models/ (and models/.cache/, where benches keep generated ones), of TEST_MODEL_DIR when
 * set, and of the folders a caller names. So a create for a local model passes, `steps_per_block` is checked
 * against the block size its manifest declares, and the local stack makes each model its queues.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

function packagesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, entry.name));
}

export interface LocalServedModel {
  name: string;
  blockSize: number;
  /** The manifest's context_length in tokens; null when it has none. */
  contextLength: number | null;
}

/** Every local model package's name, block size and context length (the last package of a name wins). */
export function servedModels(repoRoot: string, extraModelDirs: readonly string[] = []): LocalServedModel[] {
  const dirs = [
    ...packagesUnder(join(repoRoot, "models")),
    ...packagesUnder(join(repoRoot, "models", ".cache")),
    ...(process.env.TEST_MODEL_DIR ? [resolve(repoRoot, process.env.TEST_MODEL_DIR)] : []),
    ...extraModelDirs.map((dir) => resolve(repoRoot, dir)),
  ];
  const byName = new Map<string, LocalServedModel>();
  for (const dir of dirs) {
    const manifestPath = join(dir, "manifest.json");
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      name?: unknown;
      block_size?: unknown;
      context_length?: unknown;
    };
    if (typeof manifest.name === "string" && typeof manifest.block_size === "number") {
      const contextLength = typeof manifest.context_length === "number" ? manifest.context_length : null;
      byName.set(manifest.name, { name: manifest.name, blockSize: manifest.block_size, contextLength });
    }
  }
  return [...byName.values()];
}

export function servedModelsVar(repoRoot: string, extraModelDirs: readonly string[] = []): string {
  return servedModels(repoRoot, extraModelDirs)
    .map(
      ({ name, blockSize, contextLength }) =>
        `${name}:${blockSize}${contextLength === null ? "" : `:${contextLength}`}`,
    )
    .join(",");
}
