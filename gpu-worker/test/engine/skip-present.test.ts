import { describe, expect, it } from "vitest";
import { createEngineWithRunner } from "../../src/engine/engine.ts";
import { loadModelPackage } from "../../src/engine/model/model-package.ts";
import { createOrtRunner } from "../../src/engine/model/ort-runner.ts";
import type { DenoiserRunner } from "../../src/engine/model/runner.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { drain, params, tokensOf } from "./support/run.ts";

interface ForwardRecord {
  skipPresent: boolean;
  presentElements: number;
  /** Elements a full present has: L x B x H x Q x D. */
  fullPresentElements: number;
}

/** The tiny package's engine over a real ORT runner; `forcePresent` ignores the engine's skipPresent. */
async function generate(forcePresent: boolean) {
  const pkg = await loadModelPackage(TINY_PACKAGE_DIR);
  const { num_layers: layers, num_heads: heads, head_dim: headDim } = pkg.manifest.architecture;
  const runner = await createOrtRunner(pkg, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    logger: { info: () => {}, warn: () => {} },
  });
  const forwards: ForwardRecord[] = [];
  const recording: DenoiserRunner = {
    ...runner,
    async run(inputs) {
      const output = await runner.run(forcePresent ? { ...inputs, skipPresent: false } : inputs);
      forwards.push({
        skipPresent: inputs.skipPresent === true,
        presentElements: output.presentKey.length,
        fullPresentElements: layers * inputs.batchSize * heads * inputs.stepLength * headDim,
      });
      return output;
    },
  };
  const engine = createEngineWithRunner(pkg.manifest, recording, { maxBatchSize: 2, samplerThreads: 0 });
  engine.addRequest({
    requestId: "fh",
    prompt: "A prompt of a few blocks",
    params: params({ seed: 3, max_tokens: 30 }),
  });
  engine.addRequest({
    requestId: "ddpm",
    prompt: "In",
    params: params({ seed: 4, max_tokens: 24, strategy: "ddpm", steps_per_block: 2 }),
  });
  const blocks = await drain(engine);
  const { counters } = engine.stats();
  await engine.close();
  return { tokens: Object.fromEntries([...blocks].map(([id, list]) => [id, tokensOf(list)])), forwards, counters };
}

describe.skipIf(!packageExists(TINY_PACKAGE_DIR))("forwards that commit nothing", () => {
  it("skip the present keys/values, and the text is the same as when every forward returns them", async () => {
    const skipping = await generate(false);
    const full = await generate(true);
    expect(skipping.tokens).toEqual(full.tokens);
    expect(Object.keys(skipping.tokens).sort()).toEqual(["ddpm", "fh"]);
    const skipped = skipping.forwards.filter((forward) => forward.skipPresent);
    // Most denoising steps commit nothing (only a block's first step carries the previous block's commit).
    expect(skipped.length).toBeGreaterThan(skipping.forwards.length / 2);
    for (const forward of skipping.forwards) {
      expect(forward.presentElements).toBe(forward.skipPresent ? 0 : forward.fullPresentElements);
    }
    expect(skipping.counters?.bytesOut).toBeLessThan(full.counters?.bytesOut ?? 0);
  });
});
