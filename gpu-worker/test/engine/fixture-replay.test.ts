import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.ts";
import type { BlockOutput } from "../../src/engine/types.ts";
import { fixtureRandomness, readFixture } from "./support/fixtures.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";

const fixtureDir = `${TINY_PACKAGE_DIR}/fixtures`;
const fixtureFiles = packageExists(TINY_PACKAGE_DIR)
  ? readdirSync(fixtureDir).filter((name) => name.endsWith(".json"))
  : [];

describe.skipIf(fixtureFiles.length === 0)("reference sampler fixtures", () => {
  it.each(fixtureFiles)("replays %s token for token", async (name) => {
    const fixture = readFixture(`${fixtureDir}/${name}`);
    const engine = await createEngine({
      modelDir: TINY_PACKAGE_DIR,
      randomnessFor: fixtureRandomness(fixture),
      intraOpNumThreads: 1,
    });
    const prompt = Buffer.from(fixture.prompt_ids.slice(1)).toString("latin1");
    const result = engine.addRequest({
      requestId: "fixture",
      prompt,
      params: {
        max_tokens: fixture.max_new_tokens,
        temperature: fixture.temperature,
        top_p: fixture.top_p,
        strategy: "first_hitting",
        confidence_threshold: 0.95,
        stop: [],
        seed: 0,
      },
    });
    expect(result).toEqual({ status: "admitted" });
    const blocks: BlockOutput[] = [];
    while (engine.hasWork()) blocks.push(...(await engine.step()));
    await engine.close();

    blocks.slice(0, -1).forEach((block, k) => {
      const recorded = fixture.blocks[k];
      expect(block.tokenIds).toEqual(recorded?.tokens.slice(recorded.prompt_tokens));
    });
    const generated = blocks.flatMap((block) => block.tokenIds);
    const expected = fixture.final_tokens
      .slice(fixture.prompt_ids.length)
      .filter((token) => token !== fixture.eos_token_id);
    expect(generated).toEqual(expected);
    const last = blocks.at(-1);
    expect(last?.isLast).toBe(true);
    expect(last?.finishReason).toBe(fixture.stop_reason === "eos" ? "eos" : "max_tokens");
  });
});
