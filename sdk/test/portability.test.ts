import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

describe("the SDK outside the CLI", () => {
  it("uses only what Node 20+, browsers and Workers all have (no node: imports, process or Buffer)", () => {
    const offenders = sourceFiles(SRC)
      .filter((path) => !relative(SRC, path).startsWith("cli/"))
      .filter((path) => {
        const code = readFileSync(path, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
        return /from\s+["']node:|\bprocess\.|\bBuffer\b|require\(/.test(code);
      })
      .map((path) => relative(SRC, path));
    expect(offenders).toEqual([]);
  });

  it("keeps every file under 300 lines", () => {
    const long = sourceFiles(SRC).filter((path) => readFileSync(path, "utf8").split("\n").length > 300);
    expect(long).toEqual([]);
  });
});
