/**
 * Issue 21, item 8 on the real stack: the edge knows the block size of every model it serves (the local stack
 * sets MODELS from the packages' manifests) and refuses more denoising steps per block than the block has
 * positions, before any job is written or queued.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { API_KEY, MODEL_DIR, MODEL_NAME, purgeQueues, queueDepth, stackAddresses } from "../support/stack.ts";

beforeEach(purgeQueues);

const BLOCK_SIZE = (JSON.parse(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8")) as { block_size: number })
  .block_size;

async function create(body: Record<string, unknown>, idempotencyKey: string) {
  const response = await fetch(`${stackAddresses().edgeUrl}/v1/generations`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${API_KEY}`,
      "Content-Type": "application/json",
      "Idempotency-Key": idempotencyKey,
    },
    body: JSON.stringify({ model: MODEL_NAME, prompt: "In the beginning", max_tokens: 16, ...body }),
  });
  const reply = (await response.json()) as {
    error: { type: string; param?: string; message: string };
    params: { steps_per_block?: number };
  };
  return { status: response.status, headers: response.headers, body: reply };
}

describe("steps_per_block against the model's block size", () => {
  it("refuses more steps than the block has positions (400 naming steps_per_block) and writes nothing", async () => {
    const key = `steps-${crypto.randomUUID()}`;
    for (const steps of [BLOCK_SIZE + 1, 1_024]) {
      const refused = await create({ steps_per_block: steps }, key);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ type: "invalid_request_error", param: "steps_per_block" });
      expect(refused.body.error.message).toContain(`at most ${BLOCK_SIZE}`);
    }
    // No job message went out, and no job was stored under the key: another body with it is a fresh create.
    expect(await queueDepth(stackAddresses().queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    const accepted = await create({ steps_per_block: BLOCK_SIZE, max_tokens: 8 }, key);
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get("idempotent-replayed")).toBeNull();
    expect(accepted.body.params.steps_per_block).toBe(BLOCK_SIZE);
  });
});
