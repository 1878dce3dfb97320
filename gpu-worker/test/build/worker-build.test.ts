/**
 * The production build (`npm run build:worker`, gpu-worker/scripts/build.ts) runs, and what it writes starts
 * under plain `node` with no tsx and no TypeScript: bad settings exit 2 naming the variable, and with a real
 * model the engine loads with its bundled sampler thread and SIMD kernel beside main.js.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
/** Under the repository's node_modules, so the bundle's package imports resolve as they do in the image. */
const CACHE_DIR = join(REPO_ROOT, "node_modules/.cache");
const TINY_MODEL_DIR = join(REPO_ROOT, "models/tiny-random-b4");

let outDir: string;
let cwd: string;

function run(args: string[], env: Record<string, string>, options: { cwd?: string } = {}) {
  return new Promise<{ code: number | null; output: string }>((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd ?? cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => resolveRun({ code, output }));
  });
}

/** Only what a container would have: no NODE_OPTIONS (no `--import tsx`), no .env in the working folder. */
const bareEnv = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? "", ...extra });

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  const { port } = server.address() as { port: number };
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}

beforeAll(() => {
  mkdirSync(CACHE_DIR, { recursive: true });
  outDir = mkdtempSync(join(CACHE_DIR, "bd3-worker-build-"));
  cwd = mkdtempSync(join(tmpdir(), "bd3-worker-cwd-"));
});
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(cwd, { recursive: true, force: true });
});

describe("the worker's production build", () => {
  it("bundles main.js, the sampler thread and the kernel, importing no tsx and no TypeScript", async () => {
    const built = await run(
      ["--import", "tsx", join(REPO_ROOT, "gpu-worker/scripts/build.ts"), "--outdir", outDir],
      { ...process.env } as Record<string, string>,
      { cwd: REPO_ROOT },
    );
    expect(built.output).toContain("main.js");
    expect(built.code).toBe(0);
    for (const name of ["main.js", "sampler-thread-entry.mjs", "softmax-kernel.wasm", "package.json"]) {
      expect(existsSync(join(outDir, name)), name).toBe(true);
    }
    for (const name of ["main.js", "sampler-thread-entry.mjs"]) {
      const code = readFileSync(join(outDir, name), "utf8");
      const specifiers = [...code.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((match) => match[1]!);
      expect(
        specifiers.filter((specifier) => /^tsx|\.tsx?$|^@bd3-serve\//.test(specifier)),
        name,
      ).toEqual([]);
    }
    expect(JSON.parse(readFileSync(join(outDir, "package.json"), "utf8"))).toMatchObject({ type: "module" });
  });

  it("exits 2 naming the missing setting under plain node", async () => {
    const { code, output } = await run([join(outDir, "main.js")], bareEnv({ AWS_REGION: "us-east-1" }));
    expect(code).toBe(2);
    expect(output).toContain("SQS_QUEUE_URL: is required");
    expect(output).toContain("EDGE_URL: is required");
    expect(output).not.toContain("AWS_REGION");
  });

  it("loads a model with its sampler thread, then stops on an unreachable queue (exit 1)", async () => {
    const port = await closedPort();
    const { code, output } = await run(
      [join(outDir, "main.js")],
      bareEnv({
        SQS_QUEUE_URL: `http://127.0.0.1:${port}/000000000000/bd3-jobs`,
        SQS_ENDPOINT: `http://127.0.0.1:${port}`,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        EDGE_URL: `http://127.0.0.1:${port}`,
        MODEL_DIR: TINY_MODEL_DIR,
        SAMPLER_THREADS: "1",
        METRICS_PORT: "0",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      }),
    );
    expect(code).toBe(1);
    expect(output).toContain("worker failed to start");
    const engineLoaded = output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === "model loaded" && line.component === "engine");
    expect(engineLoaded).toMatchObject({ samplerThreads: 1, executionProvider: "cpu" });
    expect(output).not.toContain("could not all start");
  });
});
