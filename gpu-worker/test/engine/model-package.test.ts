import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.ts";
import { ModelPackageError } from "../../src/engine/model/errors.ts";
import { loadModelPackage, parseManifest } from "../../src/engine/model/model-package.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, tokensOf } from "./support/run.ts";

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("model package loading", () => {
  let manifest: Record<string, unknown>;
  let copyDir: string;

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(join(TINY_PACKAGE_DIR, "manifest.json"), "utf8"));
    copyDir = await mkdtemp(join(tmpdir(), "bd3-pkg-"));
    await cp(TINY_PACKAGE_DIR, copyDir, { recursive: true });
  });
  afterAll(() => rm(copyDir, { recursive: true, force: true }));

  it("refuses a manifest it does not understand, naming the field", () => {
    expect(() => parseManifest({ ...manifest, format_version: 2 })).toThrow(/"format_version"/);
    expect(() =>
      parseManifest({ ...manifest, architecture: { ...(manifest.architecture as object), head_dim: 7 } }),
    ).toThrow(/"architecture.head_dim"/);
    expect(() => parseManifest({ ...manifest, mask_token_id: 1 })).toThrow(/"mask_token_id"/);
    expect(() => parseManifest({ ...manifest, extra: true })).toThrow(ModelPackageError);
  });

  it("refuses a graph whose size or checksum does not match the manifest", async () => {
    const graphs = (manifest.graphs as { dtype: string; sha256: string }[]).map((graph) => ({
      ...graph,
      sha256: "0".repeat(64),
    }));
    await writeFile(join(copyDir, "manifest.json"), JSON.stringify({ ...manifest, graphs }));
    await expect(loadModelPackage(copyDir)).rejects.toThrow(/"graphs.sha256"/);
    await writeFile(join(copyDir, "manifest.json"), JSON.stringify(manifest));
    await expect(loadModelPackage(copyDir, { dtype: "float16" })).resolves.toMatchObject({ dtype: "float16" });
  });

  it("falls back from an unavailable execution provider and logs it", async () => {
    const warnings: string[] = [];
    const engine = await createEngine({
      modelDir: TINY_PACKAGE_DIR,
      executionProviders: ["cuda", "cpu"],
      logger: { info: () => {}, warn: (_obj, msg) => warnings.push(msg ?? "") },
    });
    expect(engine.executionProvider).toBe("cpu");
    expect(warnings.some((message) => message.includes("cuda unavailable, falling back to cpu"))).toBe(true);
    await engine.close();
  });

  it("runs the float16 graph with float16 K/V", async () => {
    const engine = await createEngine({ modelDir: TINY_PACKAGE_DIR, dtype: "float16" });
    engine.addRequest({ requestId: "h", prompt: "Hello", params: params({ seed: 6, max_tokens: 40 }) });
    const blocks = (await drain(engine)).get("h") ?? [];
    // float16 K/V: half the bytes of float32 for the same window
    expect(engine.stats().kvBudgetBytes).toBe(8 * 3 * 2 * 2 * 2 * 4 * 16 * 2);
    await engine.close();
    expect(tokensOf(blocks).length).toBeGreaterThan(0);
  });
});
