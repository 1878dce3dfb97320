import { ErrorBodySchema } from "@bd3-serve/shared";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { call, createJob } from "./helpers/api.ts";
import { lease, workerCall } from "./helpers/worker.ts";

const NUM_RUNS = 120;

/** Header values a client could really send (printable ASCII; fetch refuses control characters). */
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) });

const anyJson = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: "binary" }),
  fc.record(
    {
      prompt: fc.oneof(fc.string({ unit: "binary" }), fc.jsonValue()),
      max_tokens: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
      temperature: fc.oneof(fc.double(), fc.jsonValue()),
      top_p: fc.oneof(fc.double(), fc.jsonValue()),
      strategy: fc.oneof(fc.constantFrom("first_hitting", "ddpm", "confidence"), fc.string()),
      steps_per_block: fc.jsonValue(),
      seed: fc.oneof(fc.integer({ min: -1, max: 2 ** 33 }), fc.jsonValue()),
      stop: fc.oneof(fc.array(fc.string({ unit: "binary" })), fc.jsonValue()),
      metadata: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
      webhook: fc.oneof(fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), events: fc.jsonValue() }), fc.jsonValue()),
      model: fc.oneof(fc.string(), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);

async function expectNoServerError(response: Response) {
  const text = await response.text();
  expect(response.status, text).toBeLessThan(500);
  if (response.status >= 400) ErrorBodySchema.parse(JSON.parse(text));
}

describe("fuzz: nothing a client sends yields a 5xx", () => {
  it("creates with arbitrary bodies and headers", async () => {
    await fc.assert(
      fc.asyncProperty(
        anyJson,
        fc.option(headerValue),
        fc.option(headerValue.filter((value) => !/wait/i.test(value))),
        fc.option(fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "")),
        async (body, idempotencyKey, prefer, contentType) => {
          const headers: Record<string, string> = {};
          if (idempotencyKey !== null) headers["Idempotency-Key"] = idempotencyKey;
          if (prefer !== null) headers.Prefer = prefer;
          if (contentType !== null) headers["Content-Type"] = contentType;
          await expectNoServerError(
            await call("POST", "/v1/generations", { key: "fuzz", body: JSON.stringify(body), headers }),
          );
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("reads with arbitrary ids, query strings and Last-Event-ID", async () => {
    const real = await createJob({ prompt: "fuzz target" }, { key: "fuzz" });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: "binary" }),
          fc.constant(real.id),
          fc
            .string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 })
            .map((hex) => `gen_${hex}`),
        ),
        fc.constantFrom("", "/blocks", "/deliveries", "/cancel", "/stream"),
        fc.dictionary(fc.constantFrom("after", "limit", "status", "cursor"), fc.string({ unit: "binary" })),
        fc.option(headerValue),
        async (id, suffix, query, lastEventId) => {
          const isLiveStream = suffix === "/stream" && id === real.id;
          const params = new URLSearchParams(query).toString();
          const path = `/v1/generations/${encodeURIComponent(id)}${suffix}${params ? `?${params}` : ""}`;
          const headers: Record<string, string> = lastEventId === null ? {} : { "Last-Event-ID": lastEventId };
          const response = await call(suffix === "/cancel" ? "POST" : "GET", path, { key: "fuzz", headers });
          if (isLiveStream && response.status === 200) {
            await response.body?.cancel();
            return;
          }
          await expectNoServerError(response);
        },
      ),
      { numRuns: NUM_RUNS },
    );
    const list = fc.dictionary(fc.constantFrom("limit", "status", "cursor"), fc.string({ unit: "binary" }));
    await fc.assert(
      fc.asyncProperty(list, async (query) => {
        await expectNoServerError(await call("GET", `/v1/generations?${new URLSearchParams(query)}`, { key: "fuzz" }));
      }),
      { numRuns: 40 },
    );
  });

  it("survives arbitrary worker calls on a live job", async () => {
    const job = await createJob({ prompt: "fuzz worker" }, { key: "fuzz" });
    const { epoch } = await lease(job.id);
    const block = fc.record({
      index: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.jsonValue()),
      text: fc.oneof(fc.string({ unit: "binary" }), fc.jsonValue()),
      token_count: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.jsonValue()),
    });
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({
        epoch: fc.oneof(fc.constant(epoch), fc.integer(), fc.jsonValue()),
        block,
        token_ids: fc.oneof(fc.array(fc.integer({ min: -1, max: 300 }), { maxLength: 6 }), fc.jsonValue()),
      }),
      fc.record({ epoch: fc.oneof(fc.constant(epoch), fc.integer()), code: fc.string(), message: fc.string() }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("lease", "blocks", "heartbeat", "finish", "fail", "nope"),
        body,
        fc.option(headerValue),
        async (action, payload, capability) => {
          const response = await workerCall(job.id, action, payload, capability ?? undefined);
          await expectNoServerError(response);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
