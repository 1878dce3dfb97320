/**
 * `npm run build:kernels`: assembles the WebAssembly kernels (`*.wat` under gpu-worker/src) into the `.wasm`
 * files beside them, which are committed so that the worker needs no assembler at run time. `--check` only
 * verifies that every committed `.wasm` is what its `.wat` assembles to (the kernel test runs the same check).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import wabt from "wabt";

/** Kernel sources, relative to this file. */
export const KERNEL_SOURCES = ["../src/engine/sampler/kernel/softmax-kernel.wat"].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);

export function wasmPathOf(watPath: string): string {
  return watPath.replace(/\.wat$/, ".wasm");
}

/** The binary a `.wat` file assembles to (SIMD enabled, no debug names: the output depends on the text only). */
export async function assembleKernel(watPath: string): Promise<Uint8Array> {
  const toolkit = await wabt();
  const module = toolkit.parseWat(watPath, readFileSync(watPath, "utf8"), { simd: true });
  try {
    module.resolveNames();
    module.validate();
    return Uint8Array.from(module.toBinary({ log: false, write_debug_names: false }).buffer);
  } finally {
    module.destroy();
  }
}

async function main(): Promise<void> {
  const isCheck = process.argv.includes("--check");
  let stale = 0;
  for (const watPath of KERNEL_SOURCES) {
    const binary = await assembleKernel(watPath);
    const wasmPath = wasmPathOf(watPath);
    if (isCheck) {
      const committed = readFileSync(wasmPath);
      if (!committed.equals(binary)) {
        stale++;
        process.stderr.write(`${wasmPath} is stale: run npm run build:kernels\n`);
      }
      continue;
    }
    writeFileSync(wasmPath, binary);
    process.stderr.write(`${wasmPath}: ${binary.length} bytes\n`);
  }
  if (stale > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
