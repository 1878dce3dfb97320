/**
 * `npm run -w sdk build`: the publishable package in sdk/dist (publish it with `npm publish ./sdk/dist`).
 *
 * - dist/index.js: the SDK as one ES module for every runtime (esbuild, platform neutral). `@bd3-serve/shared`
 *   is private to this repo, so its code is bundled in; zod stays a dependency (consumers share one copy).
 * - dist/index.d.ts (+ dist/types/): tsc's declarations of the SDK and of the part of shared it uses, with
 *   every `@bd3-serve/shared` import rewritten to the copy inside the package and `.ts` specifiers to `.js`.
 * - dist/cli.js: the `bd3` command for Node (its dependencies, commander and cli-progress, stay external).
 * - dist/package.json: the published manifest (not private, no workspace or tsx dependency), and README.md.
 *
 * The workspace itself keeps using the sources (sdk/package.json exports src/index.ts). `--out-dir DIR` builds
 * elsewhere (the tests do, so they never race each other or clobber sdk/dist).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const SDK = join(import.meta.dirname, "..");
export const DEFAULT_OUT_DIR = join(SDK, "dist");
const require = createRequire(import.meta.url);

interface Manifest {
  name: string;
  version: string;
  description: string;
  dependencies: Record<string, string>;
}
const manifest = JSON.parse(readFileSync(join(SDK, "package.json"), "utf8")) as Manifest;
/** What the published package depends on: zod for the library, commander and cli-progress for the CLI. */
const PUBLISHED_DEPENDENCIES = ["zod", "commander", "cli-progress"];

function dependencyVersion(name: string): string {
  const version = manifest.dependencies[name];
  if (version === undefined) throw new Error(`sdk/package.json does not depend on ${name}`);
  return version;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** A specifier from `fromFile` to `target`, always starting with `./` or `../`, with forward slashes. */
function relativeSpecifier(fromFile: string, target: string): string {
  const path = relative(dirname(fromFile), target).split(sep).join("/");
  return path.startsWith(".") ? path : `./${path}`;
}

async function bundle(DIST: string): Promise<void> {
  await Promise.all([
    build({
      entryPoints: [join(SDK, "src/index.ts")],
      outfile: join(DIST, "index.js"),
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      external: ["zod"],
      logLevel: "warning",
    }),
    build({
      stdin: {
        contents: 'import { main } from "./src/cli/main.ts";\nprocess.exitCode = await main(process.argv);\n',
        resolveDir: SDK,
        sourcefile: "cli.ts",
        loader: "ts",
      },
      outfile: join(DIST, "cli.js"),
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      // ...except the private workspace, which no consumer can install.
      alias: { "@bd3-serve/shared": join(SDK, "../shared/src/index.ts") },
      banner: { js: "#!/usr/bin/env node" },
      logLevel: "warning",
    }),
  ]);
}

function declarations(DIST: string): void {
  const TYPES = join(DIST, "types");
  const tsc = require.resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(SDK, "tsconfig.build.json"), "--outDir", TYPES], {
    stdio: "inherit",
  });
  const sharedIndex = join(TYPES, "shared/src/index.js");
  for (const file of filesUnder(TYPES).filter((path) => path.endsWith(".d.ts"))) {
    const code = readFileSync(file, "utf8")
      .replace(
        /(["'])@bd3-serve\/shared\1/g,
        (_, quote: string) => `${quote}${relativeSpecifier(file, sharedIndex)}${quote}`,
      )
      .replace(/(["'])(\.{1,2}\/[^"']*)\.ts\1/g, (_, quote: string, path: string) => `${quote}${path}.js${quote}`);
    writeFileSync(file, code);
  }
  writeFileSync(join(DIST, "index.d.ts"), 'export * from "./types/sdk/src/index.js";\n');
}

function packageFiles(DIST: string): void {
  const published = {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    type: "module",
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./package.json": "./package.json",
    },
    main: "./index.js",
    types: "./index.d.ts",
    bin: { bd3: "./cli.js" },
    sideEffects: false,
    engines: { node: ">=20" },
    dependencies: Object.fromEntries(PUBLISHED_DEPENDENCIES.map((name) => [name, dependencyVersion(name)])),
  };
  writeFileSync(join(DIST, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
  copyFileSync(join(SDK, "README.md"), join(DIST, "README.md"));
}

/** No module of the package may still import the private workspace (comments may name it). */
function checkNoWorkspaceImports(DIST: string): void {
  const leaks = filesUnder(DIST)
    .filter((file) => file.endsWith(".js") || file.endsWith(".d.ts"))
    .filter((file) => /(["'])@bd3-serve\/shared(\/[^"']*)?\1/.test(readFileSync(file, "utf8")));
  if (leaks.length > 0) throw new Error(`dist still references @bd3-serve/shared: ${leaks.join(", ")}`);
}

/** Builds the package into `outDir` (emptied first). */
export async function buildSdk(outDir: string = DEFAULT_OUT_DIR): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await bundle(outDir);
  declarations(outDir);
  packageFiles(outDir);
  checkNoWorkspaceImports(outDir);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { "out-dir": { type: "string" } } });
  const outDir = resolve(values["out-dir"] ?? DEFAULT_OUT_DIR);
  await buildSdk(outDir);
  console.log(`built ${outDir}: index.js, index.d.ts (+ types/), cli.js, package.json, README.md`);
}
