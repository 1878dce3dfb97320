/**
 * `npm run build:worker [-- --outdir <dir>]`: the worker as plain JavaScript for the production image, so it
 * runs with `node gpu-worker/dist/main.js` (no TypeScript compiler or tsx at run time).
 *
 * esbuild (0.28, already installed with tsx) bundles the worker's own code and `@bd3-serve/shared` (a
 * workspace that ships TypeScript source) into ESM files; every other package stays an import that Node
 * resolves from the production node_modules at run time (onnxruntime-node is a native addon; the AWS SDK,
 * pino, prom-client, zod, js-tiktoken, @durable-streams/client stay as published). What the bundle loads
 * beside itself is written next to it, at the names the source asks for relative to `import.meta.url`:
 *
 *   main.js                 gpu-worker/src/runtime/main.ts
 *   sampler-thread-entry.mjs  the sampler thread (engine/sampler/parallel/sampler-thread.ts, a Node
 *                           worker_threads entry), which the source starts as
 *                           `new URL("./sampler-thread-entry.mjs", import.meta.url)` (in the source tree that
 *                           file registers tsx; here it is the bundled thread itself)
 *   softmax-kernel.wasm     the sampler's SIMD kernel (`new URL("./softmax-kernel.wasm", import.meta.url)`)
 *   package.json            {"type": "module"}, so the folder runs wherever it is copied
 *   *.map                   source maps (run with --enable-source-maps for TypeScript stack traces)
 */
import { copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BuildOptions, build, type Plugin } from "esbuild";

const WORKER_ROOT = resolve(import.meta.dirname, "..");
export const DIST_DIR_DEFAULT = join(WORKER_ROOT, "dist");
const MAIN_ENTRY = join(WORKER_ROOT, "src/runtime/main.ts");
const SAMPLER_THREAD_ENTRY = join(WORKER_ROOT, "src/engine/sampler/parallel/sampler-thread.ts");
const SOFTMAX_KERNEL = join(WORKER_ROOT, "src/engine/sampler/kernel/softmax-kernel.wasm");
/** The file name the sampler pool starts its threads by (sampler-pool.ts), in the source tree and here. */
const SAMPLER_THREAD_OUTFILE = "sampler-thread-entry.mjs";
/** Workspaces bundled from source; every other bare import stays external. */
const BUNDLED_SCOPE = "@bd3-serve/";

/** Bare imports (packages, node: builtins) are left to Node, except this repository's own workspaces. */
const externalPackages: Plugin = {
  name: "external-packages",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === "entry-point" || args.path.startsWith(BUNDLED_SCOPE)) return undefined;
      return { path: args.path, external: true };
    });
  },
};

export interface WorkerBuild {
  outDir: string;
  /** Output file name -> size in bytes. */
  files: Record<string, number>;
}

export async function buildWorker(outDir: string = DIST_DIR_DEFAULT): Promise<WorkerBuild> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const common: BuildOptions = {
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    plugins: [externalPackages],
    logLevel: "warning",
    legalComments: "none",
  };
  await Promise.all([
    build({ ...common, entryPoints: [MAIN_ENTRY], outfile: join(outDir, "main.js") }),
    build({ ...common, entryPoints: [SAMPLER_THREAD_ENTRY], outfile: join(outDir, SAMPLER_THREAD_OUTFILE) }),
  ]);
  copyFileSync(SOFTMAX_KERNEL, join(outDir, "softmax-kernel.wasm"));
  writeFileSync(join(outDir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  const names = [
    "main.js",
    "main.js.map",
    SAMPLER_THREAD_OUTFILE,
    `${SAMPLER_THREAD_OUTFILE}.map`,
    "softmax-kernel.wasm",
    "package.json",
  ];
  return { outDir, files: Object.fromEntries(names.map((name) => [name, statSync(join(outDir, name)).size])) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { outdir: { type: "string" } } });
  const result = await buildWorker(values.outdir === undefined ? undefined : resolve(values.outdir));
  const total = Object.values(result.files).reduce((sum, size) => sum + size, 0);
  for (const [name, size] of Object.entries(result.files)) {
    process.stdout.write(`${name.padEnd(28)} ${(size / 1024).toFixed(1).padStart(9)} KiB\n`);
  }
  process.stdout.write(`${result.outDir}: ${(total / 1024).toFixed(1)} KiB\n`);
}
