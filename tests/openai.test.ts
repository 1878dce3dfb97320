/**
 * The OpenAI-compatible endpoints through the whole local stack, called with the official `openai` npm client
 * (issue 16, item 3): `models.list`, a non-streaming completion, a streaming one (one chunk per block, the
 * finish reason, usage with `stream_options.include_usage`, `[DONE]`), each backed by a normal generation
 * (visible in GET with the same text), and the fields that cannot map refused with a 400 naming them.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import { API_KEY, getBlocks, getJob, MODEL_NAME, stackAddresses } from "./support/stack.ts";

const fixture = useStackFixture({ slowEdge: false });

function client(): OpenAI {
  return new OpenAI({ baseURL: `${stackAddresses().edgeUrl}/v1`, apiKey: API_KEY, maxRetries: 0 });
}

describe("OpenAI-compatible API", () => {
  it("lists the served models with their block size", async () => {
    const models = await client().models.list();
    const ids = models.data.map((model) => model.id);
    expect(ids).toContain(MODEL_NAME);
    expect(
      (models.data.find((model) => model.id === MODEL_NAME) as unknown as { block_size: number }).block_size,
    ).toBeGreaterThan(0);
  });

  it("answers a non-streaming completion from a normal generation with the same text and usage", async () => {
    await fixture.startInProcessWorker();
    const completion = await client().completions.create({
      model: MODEL_NAME,
      prompt: "In the beginning",
      max_tokens: 24,
      seed: 7,
      temperature: 1,
      top_p: 0.9,
      // Neutral values of fields that cannot map are accepted, so a client that sends them explicitly works.
      n: 1,
      echo: false,
      logprobs: null,
      presence_penalty: 0,
    });
    expect(completion.object).toBe("text_completion");
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(["stop", "length"]).toContain(choice?.finish_reason);
    const job = await getJob(completion.id);
    expect(job.status).toBe("succeeded");
    expect(job.params).toMatchObject({ max_tokens: 24, seed: 7, top_p: 0.9 });
    expect(choice?.text).toBe(job.text);
    expect(completion.usage?.completion_tokens).toBe(job.usage?.completion_tokens);
    expect(completion.usage?.total_tokens).toBe((job.usage?.prompt_tokens ?? 0) + (job.usage?.completion_tokens ?? 0));
  });

  it("streams one chunk per block, then the finish reason, usage and [DONE]", async () => {
    await fixture.startInProcessWorker();
    const stream = await client().completions.create({
      model: MODEL_NAME,
      prompt: "And God said",
      max_tokens: 40,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const id = chunks[0]?.id ?? "";
    const job = await getJob(id);
    const blocks = await getBlocks(id);
    const textChunks = chunks.filter((chunk) => chunk.choices[0]?.finish_reason === null);
    expect(textChunks.map((chunk) => chunk.choices[0]?.text)).toEqual(blocks.map((block) => block.text));
    const last = chunks.filter((chunk) => chunk.choices.length > 0).at(-1);
    expect(last?.choices[0]?.finish_reason).toBe(job.finish_reason === "max_tokens" ? "length" : "stop");
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage?.completion_tokens).toBe(job.usage?.completion_tokens);
    expect(textChunks.map((chunk) => chunk.choices[0]?.text).join("")).toBe(job.text);
  });

  it("refuses fields that cannot map with a 400 naming each, and writes no job", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ n: 2 }, "n"],
      [{ logprobs: 3 }, "logprobs"],
      [{ echo: true }, "echo"],
      [{ best_of: 3 }, "best_of"],
      [{ presence_penalty: 0.5 }, "presence_penalty"],
      [{ logit_bias: { "50256": -100 } }, "logit_bias"],
      [{ suffix: "end" }, "suffix"],
      [{ prompt: [1, 2, 3] }, "prompt"],
      [{ max_tokens: 0 }, "max_tokens"],
      [{ temperature: 9 }, "temperature"],
      [{ model: "no-such-model" }, "model"],
    ];
    for (const [fields, param] of cases) {
      const idempotencyKey = `refused-${param}-${crypto.randomUUID()}`;
      const error = await client()
        .completions.create({ model: MODEL_NAME, prompt: "In the beginning", ...fields } as never, {
          headers: { "Idempotency-Key": idempotencyKey },
        })
        .then(
          () => null,
          (caught: unknown) => caught,
        );
      expect(error, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param, JSON.stringify(fields)).toBe(param);
      // Nothing was written under that key: a create with it and another body is a new job, not a 422.
      const create = await fetch(`${stackAddresses().edgeUrl}/v1/generations`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${API_KEY}`,
          "Content-Type": "application/json",
          "Idempotency-Key": idempotencyKey,
        },
        body: JSON.stringify({ prompt: `probe ${param}`, max_tokens: 4 }),
      });
      expect(create.status, param).toBe(202);
      expect(create.headers.get("Idempotent-Replayed")).toBeNull();
    }
  });
});
