/**
 * The edge's `MODELS` var for the local stack, from the model packages themselves: `<name>:<block_size>` of every
 * package under models/ (and models/.cache/, where benches keep generated ones), of TEST_MODEL_DIR when set,
 * and of the folders a caller names. So a create for a local model passes and `steps_per_block` is checked
 * against the block size its manifest declares.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

function packagesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, entry.name));
}

export function servedModelsVar(repoRoot: string, extraModelDirs: readonly string[] = []): string {
  const dirs = [
    ...packagesUnder(join(repoRoot, "models")),
    ...packagesUnder(join(repoRoot, "models", ".cache")),
    ...(process.env.TEST_MODEL_DIR ? [resolve(repoRoot, process.env.TEST_MODEL_DIR)] : []),
    ...extraModelDirs.map((dir) => resolve(repoRoot, dir)),
  ];
  const blockSizeByName = new Map<string, number>();
  for (const dir of dirs) {
    const manifestPath = join(dir, "manifest.json");
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { name?: unknown; block_size?: unknown };
    if (typeof manifest.name === "string" && typeof manifest.block_size === "number") {
      blockSizeByName.set(manifest.name, manifest.block_size);
    }
  }
  return [...blockSizeByName].map(([name, blockSize]) => `${name}:${blockSize}`).join(",");
}
