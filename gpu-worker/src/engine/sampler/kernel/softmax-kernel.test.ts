import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assembleKernel, KERNEL_SOURCES, wasmPathOf } from "../../../../scripts/build-kernels.ts";

describe("committed WebAssembly kernels", () => {
  it.each(KERNEL_SOURCES)("%s assembles to the committed .wasm (npm run build:kernels)", async (watPath) => {
    const assembled = await assembleKernel(watPath);
    expect(Buffer.from(assembled).equals(readFileSync(wasmPathOf(watPath)))).toBe(true);
  });
});
