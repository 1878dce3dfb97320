/**
 * Issue 21: a fast-check fuzz of the worker API bodies on the real stack. The caller holds a real capability
 * (from the job's queue message) and a live lease, so every body reaches the job object's checks; whatever it
 * sends, the edge answers a 2xx or a 4xx with a JSON error body, never a 5xx, and the document only ever holds
 * blocks within the job's max_tokens.
 */
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { createJob, getJob, purgeQueues, stackAddresses } from "../support/stack.ts";
import { takeJob } from "../support/synthetic-writer.ts";

beforeEach(purgeQueues);

const ROUTES = ["lease", "blocks", "heartbeat", "finish", "fail", "release", "block-stream"] as const;
const MAX_TOKENS = 48;

/** Values a confused or hostile worker might put anywhere in a body. */
const anything = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: -1, max: 300 }), { maxLength: 40 }),
);

const blockRecord = fc.record(
  {
    index: fc.oneof(fc.integer({ min: 0, max: 4 }), anything),
    text: fc.oneof(fc.string({ maxLength: 64 }), anything),
    token_ids: fc.oneof(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }), anything),
    finish_reason: fc.constantFrom("eos", "max_tokens", "stop_sequence", "error", "canceled", "bogus"),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.record(
    {
      epoch: fc.oneof(fc.integer({ min: 0, max: 3 }), anything),
      worker_id: fc.oneof(fc.string({ maxLength: 300 }), anything),
      block: fc.record({ index: anything, text: anything, token_count: anything }, { requiredKeys: [] }),
      token_ids: anything,
      finish_reason: fc.oneof(fc.constantFrom("eos", "canceled", "max_tokens", "error"), anything),
      usage: fc.record(
        { prompt_tokens: anything, completion_tokens: anything, forwards: anything },
        { requiredKeys: [] },
      ),
      code: anything,
      message: anything,
      is_retryable: anything,
    },
    { requiredKeys: [] },
  ),
  fc.array(blockRecord, { maxLength: 4 }),
  anything,
);

describe("worker API fuzz", () => {
  it("answers every body with a 2xx or a 4xx JSON error, never a 5xx, and never passes max_tokens", async () => {
    const created = await createJob("Fuzz", { max_tokens: MAX_TOKENS });
    const job = await takeJob(created.id, "fuzzer");
    const { capability } = job.message;
    const { edgeUrl } = stackAddresses();
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), body, async (route, payload) => {
        const headers: Record<string, string> = {
          Authorization: `Bearer ${capability}`,
          "Content-Type": "application/json",
        };
        if (route === "block-stream") {
          Object.assign(headers, { "Producer-Id": "fuzzer", "Producer-Epoch": "1", "Producer-Seq": String(seq++) });
        }
        const response = await fetch(`${edgeUrl}/internal/v1/jobs/${created.id}/${route}`, {
          method: "POST",
          headers,
          body: JSON.stringify(payload),
        });
        const text = await response.text();
        expect(response.status, `${route} ${JSON.stringify(payload)} -> ${text}`).toBeLessThan(500);
        if (response.status >= 400) expect(JSON.parse(text).error.type).toEqual(expect.any(String));
      }),
      { numRuns: 150 },
    );
    const view = await getJob(created.id);
    expect(view.progress.tokens).toBeLessThanOrEqual(MAX_TOKENS);
  });
});
