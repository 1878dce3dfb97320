/** Model packages the engine tests run on (built by the model toolkit, committed under models/). */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

export const MODELS_DIR = `${repoRoot}models`;

/** 2 layers x d=32, bytes vocabulary, block 4, context 16: the window slides after 3 blocks. */
export const TINY_PACKAGE_DIR = `${repoRoot}models/tiny-random-b4`;
export const DEMO_PACKAGE_DIR = `${repoRoot}models/kjv-bd3lm-b16`;

export function packageExists(dir: string): boolean {
  return existsSync(`${dir}/manifest.json`);
}
