import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { ErrorBodySchema, JobViewSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import worker from "../src/worker.ts";
import { call } from "./helpers/api.ts";

/**
 * Issue 21, item 8: the edge knows its models and their block sizes (MODELS, wrangler.toml's top level:
 * kjv-bd3lm-b16:16, kjv-bd3lm-b4:4, tiny-random-b4:4) and refuses more denoising steps than a block has
 * positions before any job is written.
 */
describe("models and steps_per_block", () => {
  const create = (body: Record<string, unknown>, idempotencyKey: string) =>
    call("POST", "/v1/generations", {
      body: { prompt: "In the beginning", ...body },
      headers: { "Idempotency-Key": idempotencyKey },
    });

  it("refuses steps_per_block above the model's block size with a 400 naming it, and writes no job", async () => {
    const key = `steps-${crypto.randomUUID()}`;
    for (const [body, blockSize] of [
      [{ steps_per_block: 1_024 }, 16],
      [{ model: "kjv-bd3lm-b16", steps_per_block: 17 }, 16],
      [{ model: "tiny-random-b4", steps_per_block: 5 }, 4],
    ] as const) {
      const refused = await create(body, key);
      expect(refused.status).toBe(400);
      const { error } = ErrorBodySchema.parse(await refused.json());
      expect(error).toMatchObject({ type: "invalid_request_error", param: "steps_per_block" });
      expect(error.message).toContain(`at most ${blockSize}`);
    }
    // Nothing was stored under the key: a different body with it is a fresh create (no 422, not a replay).
    const created = await create({ model: "tiny-random-b4", steps_per_block: 4, max_tokens: 8 }, key);
    expect(created.status).toBe(202);
    expect(created.headers.get("Idempotent-Replayed")).toBeNull();
    expect(JobViewSchema.parse(await created.json()).params.steps_per_block).toBe(4);
  });

  it("refuses a model that is not listed, naming model", async () => {
    const refused = await create({ model: "not-served-b8" }, `model-${crypto.randomUUID()}`);
    expect(refused.status).toBe(400);
    expect(ErrorBodySchema.parse(await refused.json()).error.param).toBe("model");
  });

  it("fails closed on a bad MODELS entry or a DEFAULT_MODEL it does not list (/healthz names them)", async () => {
    const problemsWith = async (bindings: Record<string, string>) => {
      const response = await worker.fetch(
        new Request("https://edge.test/healthz"),
        { ...env, ...bindings },
        createExecutionContext(),
      );
      return ((await response.json()) as { problems?: string[] }).problems ?? [];
    };
    expect(await problemsWith({ MODELS: "kjv-bd3lm-b16" })).toContainEqual(
      expect.stringContaining("MODELS entry 'kjv-bd3lm-b16' must be <model slug>:<block size in tokens>"),
    );
    expect(await problemsWith({ MODELS: "tiny-random-b4:4" })).toContainEqual(
      "DEFAULT_MODEL 'kjv-bd3lm-b16' is not listed in MODELS",
    );
    expect(await problemsWith({ MODELS: "kjv-bd3lm-b16:16" })).toEqual([]);
  });
});
