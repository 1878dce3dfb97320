import { existsSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.ts";
import { createTokenizer } from "../../src/engine/tokenizer/index.ts";
import type { BlockOutput } from "../../src/engine/types.ts";
import { fixtureRandomness, readFixture } from "./support/fixtures.ts";
import { MODELS_DIR, packageExists } from "./support/packages.ts";

/** Every committed fixture of every package: models/<package>/fixtures/sampler-*.json. */
const fixtureFiles = readdirSync(MODELS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
  .map((entry) => `${MODELS_DIR}/${entry.name}`)
  .filter((dir) => packageExists(dir) && existsSync(`${dir}/fixtures`))
  .flatMap((dir) =>
    readdirSync(`${dir}/fixtures`)
      .filter((name) => name.startsWith("sampler-") && name.endsWith(".json"))
      .map((name) => ({ dir, name: `${dir.split("/").at(-1)}/${name}` })),
  );

describe.skipIf(fixtureFiles.length === 0)("reference sampler fixtures", () => {
  it.each(fixtureFiles)("replays $name token for token", async ({ dir, name }) => {
    const fixture = readFixture(`${MODELS_DIR}/${name.replace("/", "/fixtures/")}`);
    const engine = await createEngine({
      modelDir: dir,
      randomnessFor: fixtureRandomness(fixture),
      intraOpNumThreads: 1,
    });
    // The fixture records ids; the engine takes text: decode them and check the text encodes back to them.
    const tokenizer = createTokenizer(engine.manifest.tokenizer.kind);
    const promptIds = fixture.prompt_ids.slice(1);
    const prompt = Buffer.concat(promptIds.map((id) => tokenizer.tokenBytes(id))).toString("utf8");
    expect(tokenizer.encode(prompt)).toEqual(promptIds);
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
