import { describe, expect, it } from "vitest";
import { ApiError } from "../errors/api-error.ts";
import { checkModelRequest, parseServedModels } from "./served-models.ts";

function parse(raw: string | undefined) {
  const problems: string[] = [];
  return { models: parseServedModels(raw, problems), problems };
}

function refusal(run: () => void): { status: number; param: string | undefined; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, param: error.param, message: error.message };
    throw error;
  }
  throw new Error("expected an ApiError");
}

describe("MODELS", () => {
  it("reads <name>:<block size> entries, and nothing from an empty var", () => {
    expect(parse(" kjv-bd3lm-b16:16 , tiny-random-b4:4,")).toEqual({
      models: [
        { name: "kjv-bd3lm-b16", blockSizeTokens: 16, contextLengthTokens: null },
        { name: "tiny-random-b4", blockSizeTokens: 4, contextLengthTokens: null },
      ],
      problems: [],
    });
    expect(parse("kjv-bd3lm-b16:16:256")).toEqual({
      models: [{ name: "kjv-bd3lm-b16", blockSizeTokens: 16, contextLengthTokens: 256 }],
      problems: [],
    });
    expect(parse("")).toEqual({ models: [], problems: [] });
    expect(parse(undefined)).toEqual({ models: [], problems: [] });
  });

  it.each([
    "kjv-bd3lm-b16",
    "kjv-bd3lm-b16:",
    "kjv-bd3lm-b16:0",
    "Not A Slug:16",
    "m:16:2",
    "m:x",
    ":16",
    "m:2048",
    "m:4:x",
    "m:4:16:1",
  ])("names the bad entry %j as a problem", (entry) => {
    const { models, problems } = parse(`ok-model:4,${entry}`);
    expect(models).toEqual([{ name: "ok-model", blockSizeTokens: 4, contextLengthTokens: null }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^MODELS entry /);
  });
});

describe("checkModelRequest", () => {
  const models = [
    { name: "kjv-bd3lm-b16", blockSizeTokens: 16, contextLengthTokens: null },
    { name: "tiny-random-b4", blockSizeTokens: 4, contextLengthTokens: null },
  ];

  it("passes a served model with steps up to its block size, or no steps", () => {
    expect(() => checkModelRequest(models, "kjv-bd3lm-b16", 16)).not.toThrow();
    expect(() => checkModelRequest(models, "tiny-random-b4", 1)).not.toThrow();
    expect(() => checkModelRequest(models, "tiny-random-b4", undefined)).not.toThrow();
  });

  it("refuses steps_per_block above the model's block size, naming the field and the size", () => {
    expect(refusal(() => checkModelRequest(models, "kjv-bd3lm-b16", 17))).toEqual({
      status: 400,
      param: "steps_per_block",
      message: "steps_per_block must be at most 16, the block size of 'kjv-bd3lm-b16'",
    });
    expect(refusal(() => checkModelRequest(models, "tiny-random-b4", 5)).param).toBe("steps_per_block");
  });

  it("refuses a model that is not served, naming the field", () => {
    expect(refusal(() => checkModelRequest(models, "gpt-9", undefined))).toMatchObject({ status: 400, param: "model" });
  });

  it("accepts any model and any schema-valid steps when no list is configured", () => {
    expect(() => checkModelRequest([], "anything", 1_024)).not.toThrow();
  });
});
