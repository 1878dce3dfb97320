/**
 * `npm --prefix infra run k8s:generate`: writes infra/k8s/manifests/*.yaml from the TypeScript in this folder.
 * `--check` writes nothing and exits 1 naming every file that differs from what would be written.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { renderManifests } from "./manifests.ts";

export const MANIFESTS_DIR = resolve(import.meta.dirname, "../manifests");

/** Files whose committed contents differ from the generator's, plus committed YAML it no longer writes. */
export function staleManifests(dir = MANIFESTS_DIR): string[] {
  const rendered = renderManifests();
  const stale = [...rendered].filter(
    ([file, text]) => !existsSync(join(dir, file)) || readFileSync(join(dir, file), "utf8") !== text,
  );
  const extra = existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith(".yaml") && !rendered.has(file)) : [];
  return [...stale.map(([file]) => file), ...extra];
}

function main(): void {
  if (process.argv.includes("--check")) {
    const stale = staleManifests();
    if (stale.length > 0) {
      process.stderr.write(`out of date: ${stale.join(", ")} (run npm --prefix infra run k8s:generate)\n`);
      process.exit(1);
    }
    return;
  }
  mkdirSync(MANIFESTS_DIR, { recursive: true });
  const rendered = renderManifests();
  for (const file of readdirSync(MANIFESTS_DIR)) {
    if (file.endsWith(".yaml") && !rendered.has(file)) rmSync(join(MANIFESTS_DIR, file));
  }
  for (const [file, text] of rendered) writeFileSync(join(MANIFESTS_DIR, file), text);
  process.stdout.write(`wrote ${[...rendered.keys()].join(", ")} to ${MANIFESTS_DIR}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) main();
