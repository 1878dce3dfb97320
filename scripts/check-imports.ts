/**
 * `npm run check:imports`: fails when the source files' imports form a cycle, type-only imports included
 * (issue 19's goal: "no import cycle anywhere"). A cycle, even of types only, means a change to one file can
 * ripple all the way round; the fix is a leaf file that both sides import.
 *
 * It reads every TypeScript source file under SOURCE_ROOTS (tests and generated output left out: tests may
 * import each other freely), follows relative imports and re-exports (`import`, `import type`, `export ...
 * from`, `import("...")`) and the workspace packages (`@bd3-serve/<name>` -> that package's entry), and prints
 * each strongly connected component of more than one file (or a file importing itself) with its files.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/** Where the source lives; every folder that holds code the project runs or ships. */
const SOURCE_ROOTS = [
  "edge/src",
  "edge/bench",
  "edge/scripts",
  "gpu-worker/src",
  "gpu-worker/bench",
  "gpu-worker/scripts",
  "shared/src",
  "sdk/src",
  "scripts",
  "bench",
  "tests/support",
  "infra/cdk",
  "infra/k8s/src",
];

/** The workspace packages' entry files, as their package.json `exports["."]` names them. */
const PACKAGE_ENTRIES: Record<string, string> = {
  "@bd3-serve/shared": "shared/src/index.ts",
  "@bd3-serve/sdk": "sdk/src/index.ts",
};

const SKIPPED_DIRS = new Set(["node_modules", "dist", "cdk.out", ".wrangler"]);
const IMPORT_PATTERN =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function isSourceFile(path: string): boolean {
  return /\.(ts|mts|tsx)$/.test(path) && !/\.(test|spec)\.tsx?$/.test(path) && !path.endsWith(".d.ts");
}

function listSources(dir: string, out: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (SKIPPED_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) listSources(path, out);
    else if (isSourceFile(path)) out.push(path);
  }
}

/** The file an import names, or null when it leaves the measured tree (a dependency, a node: module). */
function resolveImport(fromFile: string, specifier: string, known: Set<string>): string | null {
  const entry = PACKAGE_ENTRIES[specifier];
  if (entry !== undefined) return join(ROOT, entry);
  if (!specifier.startsWith(".")) return null;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  return candidates.find((candidate) => known.has(candidate)) ?? null;
}

/** Tarjan's strongly connected components; the ones that are cycles. */
function cyclesOf(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (;;) {
      const member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    if (component.length > 1 || graph.get(node)?.has(node)) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

export function importCycles(): { files: number; imports: number; cycles: string[][] } {
  const files: string[] = [];
  for (const root of SOURCE_ROOTS) listSources(join(ROOT, root), files);
  const known = new Set(files);
  const graph = new Map<string, Set<string>>();
  let imports = 0;
  for (const file of files) {
    const targets = new Set<string>();
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT_PATTERN)) {
      const target = resolveImport(file, match[1] ?? match[2] ?? "", known);
      if (target !== null && known.has(target)) targets.add(target);
    }
    imports += targets.size;
    graph.set(file, targets);
  }
  return { files: files.length, imports, cycles: cyclesOf(graph) };
}

if (process.argv[1] === import.meta.filename) {
  const { files, imports, cycles } = importCycles();
  console.log(`import graph: ${files} source files, ${imports} imports between them, ${cycles.length} cycle(s)`);
  for (const [n, cycle] of cycles.entries()) {
    console.log(`cycle ${n + 1} (${cycle.length} files):`);
    for (const file of cycle) console.log(`  ${relative(ROOT, file)}`);
  }
  if (cycles.length > 0) process.exit(1);
}
