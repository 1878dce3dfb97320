import { describe, expect, it } from "vitest";
import {
  MAX_TOKENS_MAX,
  METADATA_MAX_BYTES,
  METADATA_MAX_KEYS,
  PRIORITY_MAX,
  PRIORITY_MIN,
  PROMPT_MAX_BYTES,
  SEED_MAX,
  STOP_SEQUENCE_MAX_BYTES,
  STOP_SEQUENCES_MAX_COUNT,
  WEBHOOK_URL_MAX_LENGTH,
} from "../limits.ts";
import { CreateGenerationRequestSchema, IdempotencyKeySchema } from "./create-generation.ts";

function parse(body: unknown) {
  return CreateGenerationRequestSchema.safeParse(body);
}

/** The dotted path of the first issue, which the edge reports as `param`. */
function firstIssuePath(body: unknown): string | undefined {
  const result = parse(body);
  return result.success ? undefined : result.error.issues[0]?.path.join(".");
}

describe("CreateGenerationRequestSchema", () => {
  it("applies the documented defaults to a prompt-only body", () => {
    const result = parse({ prompt: "In the beginning" });
    expect(result.success).toBe(true);
    expect(result.data).toEqual({
      prompt: "In the beginning",
      max_tokens: 1024,
      temperature: 1,
      top_p: 0.9,
      strategy: "first_hitting",
      confidence_threshold: 0.95,
      stop: [],
      metadata: {},
    });
  });

  it("accepts every option at once", () => {
    const result = parse({
      prompt: "x",
      model: "kjv-bd3lm-b16",
      max_tokens: MAX_TOKENS_MAX,
      temperature: 0,
      top_p: 1,
      strategy: "confidence",
      steps_per_block: 4,
      confidence_threshold: 0.5,
      seed: SEED_MAX,
      stop: ["\n\n", "THE END"],
      webhook: { url: "https://example.com/hook", events: ["generation.completed", "generation.block"] },
      metadata: { customer: "42" },
    });
    expect(result.success).toBe(true);
  });

  describe("prompt", () => {
    it.each([
      ["empty", ""],
      ["whitespace only", " \n\t "],
    ])("rejects a prompt that is %s", (_, prompt) => {
      expect(firstIssuePath({ prompt })).toBe("prompt");
    });

    it("accepts a prompt of exactly the byte limit and rejects one byte more", () => {
      expect(parse({ prompt: "a".repeat(PROMPT_MAX_BYTES) }).success).toBe(true);
      expect(firstIssuePath({ prompt: "a".repeat(PROMPT_MAX_BYTES + 1) })).toBe("prompt");
    });

    it("counts the limit in UTF-8 bytes, so emoji and accents weigh more than one", () => {
      const emoji = "😀"; // 4 bytes, 2 UTF-16 units
      expect(parse({ prompt: emoji.repeat(PROMPT_MAX_BYTES / 4) }).success).toBe(true);
      expect(firstIssuePath({ prompt: `${emoji.repeat(PROMPT_MAX_BYTES / 4)}a` })).toBe("prompt");
      expect(parse({ prompt: "Ère nouvelle — 新しい 🌍" }).success).toBe(true);
    });

    it("rejects a missing prompt and a prompt of the wrong type", () => {
      expect(firstIssuePath({})).toBe("prompt");
      expect(firstIssuePath({ prompt: 42 })).toBe("prompt");
      expect(firstIssuePath({ prompt: ["a"] })).toBe("prompt");
    });
  });

  describe("numbers", () => {
    it.each([
      ["max_tokens", 0],
      ["max_tokens", MAX_TOKENS_MAX + 1],
      ["max_tokens", 1.5],
      ["max_tokens", -1],
      ["max_tokens", Number.NaN],
      ["max_tokens", Number.POSITIVE_INFINITY],
      ["max_tokens", "10"],
      ["temperature", -0.1],
      ["temperature", Number.NaN],
      ["temperature", Number.POSITIVE_INFINITY],
      ["temperature", 2.5],
      ["top_p", 0],
      ["top_p", 1.01],
      ["top_p", -0.5],
      ["top_p", Number.NaN],
      ["steps_per_block", 0],
      ["steps_per_block", 2.5],
      ["steps_per_block", 2048],
      ["seed", -1],
      ["seed", SEED_MAX + 1],
      ["seed", 3.14],
      ["seed", Number.NEGATIVE_INFINITY],
      ["confidence_threshold", 0],
      ["confidence_threshold", 1.5],
    ])("rejects %s = %s naming the field", (field, value) => {
      expect(firstIssuePath({ prompt: "x", [field]: value })).toBe(field);
    });

    it("accepts the inclusive edges", () => {
      expect(parse({ prompt: "x", max_tokens: 1, temperature: 0, top_p: 1, seed: 0, steps_per_block: 1 }).success).toBe(
        true,
      );
    });
  });

  it("takes a priority from PRIORITY_MIN to PRIORITY_MAX (absent: the edge's normal), naming it otherwise", () => {
    expect(parse({ prompt: "x" }).data?.priority).toBeUndefined();
    for (const priority of [PRIORITY_MIN, PRIORITY_MAX]) expect(parse({ prompt: "x", priority }).success).toBe(true);
    for (const priority of [PRIORITY_MIN - 1, PRIORITY_MAX + 1, 1.5, "high"]) {
      expect(firstIssuePath({ prompt: "x", priority })).toBe("priority");
    }
  });

  it("rejects an unknown strategy", () => {
    expect(firstIssuePath({ prompt: "x", strategy: "greedy" })).toBe("strategy");
  });

  describe("stop sequences", () => {
    it("accepts the maximum count and length", () => {
      const stop = Array.from({ length: STOP_SEQUENCES_MAX_COUNT }, () => "s".repeat(STOP_SEQUENCE_MAX_BYTES));
      expect(parse({ prompt: "x", stop }).success).toBe(true);
    });

    it("rejects too many, too long, empty or non-string stops", () => {
      const tooMany = Array.from({ length: STOP_SEQUENCES_MAX_COUNT + 1 }, (_, i) => `s${i}`);
      expect(firstIssuePath({ prompt: "x", stop: tooMany })).toBe("stop");
      expect(firstIssuePath({ prompt: "x", stop: ["s".repeat(STOP_SEQUENCE_MAX_BYTES + 1)] })).toBe("stop.0");
      expect(firstIssuePath({ prompt: "x", stop: ["é".repeat(STOP_SEQUENCE_MAX_BYTES / 2 + 1)] })).toBe("stop.0");
      expect(firstIssuePath({ prompt: "x", stop: [""] })).toBe("stop.0");
      expect(firstIssuePath({ prompt: "x", stop: "END" })).toBe("stop");
    });
  });

  describe("webhook", () => {
    it("defaults the events to the terminal ones", () => {
      const result = parse({ prompt: "x", webhook: { url: "https://hooks.example.com/x" } });
      expect(result.data?.webhook?.events).toEqual([
        "generation.completed",
        "generation.failed",
        "generation.canceled",
        "generation.expired",
      ]);
    });

    it.each([
      ["not a url", "hooks.example.com/x"],
      ["ftp", "ftp://hooks.example.com/x"],
      ["javascript", "javascript:alert(1)"],
      ["credentials", "https://user:pass@hooks.example.com/x"],
      ["too long", `https://example.com/${"a".repeat(WEBHOOK_URL_MAX_LENGTH)}`],
    ])("rejects a url that is %s", (_, url) => {
      expect(firstIssuePath({ prompt: "x", webhook: { url } })).toBe("webhook.url");
    });

    it("rejects empty, duplicate or unknown events", () => {
      const url = "https://hooks.example.com/x";
      expect(firstIssuePath({ prompt: "x", webhook: { url, events: [] } })).toBe("webhook.events");
      expect(
        firstIssuePath({ prompt: "x", webhook: { url, events: ["generation.completed", "generation.completed"] } }),
      ).toBe("webhook.events");
      expect(firstIssuePath({ prompt: "x", webhook: { url, events: ["generation.started"] } })).toBe(
        "webhook.events.0",
      );
    });
  });

  describe("metadata", () => {
    it("accepts the maximum number of keys", () => {
      const metadata = Object.fromEntries(Array.from({ length: METADATA_MAX_KEYS }, (_, i) => [`k${i}`, "v"]));
      expect(parse({ prompt: "x", metadata }).success).toBe(true);
    });

    it("rejects too many keys, too many bytes and non-string values", () => {
      const tooMany = Object.fromEntries(Array.from({ length: METADATA_MAX_KEYS + 1 }, (_, i) => [`k${i}`, "v"]));
      expect(firstIssuePath({ prompt: "x", metadata: tooMany })).toBe("metadata");
      const heavy = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, "v".repeat(450)]));
      expect(JSON.stringify(heavy).length).toBeGreaterThan(METADATA_MAX_BYTES);
      expect(firstIssuePath({ prompt: "x", metadata: heavy })).toBe("metadata");
      expect(firstIssuePath({ prompt: "x", metadata: { n: 1 } })).toBe("metadata.n");
      expect(firstIssuePath({ prompt: "x", metadata: ["a"] })).toBe("metadata");
    });
  });

  it("rejects unknown fields, at the top and inside nested objects", () => {
    const top = parse({ prompt: "x", max_token: 10 });
    expect(top.success).toBe(false);
    expect(top.error?.issues[0]?.code).toBe("unrecognized_keys");
    expect(firstIssuePath({ prompt: "x", webhook: { url: "https://a.example", secret: "s" } })).toBe("webhook");
  });

  it("rejects bodies that are not objects", () => {
    for (const body of [null, "prompt", 42, [], true]) {
      expect(parse(body).success).toBe(false);
    }
  });

  it("rejects a model name that is not a slug", () => {
    expect(firstIssuePath({ prompt: "x", model: "../etc" })).toBe("model");
    expect(firstIssuePath({ prompt: "x", model: "" })).toBe("model");
  });
});

describe("IdempotencyKeySchema", () => {
  it("accepts 1..255 printable ASCII characters", () => {
    expect(IdempotencyKeySchema.safeParse("a").success).toBe(true);
    expect(IdempotencyKeySchema.safeParse("k".repeat(255)).success).toBe(true);
    expect(IdempotencyKeySchema.safeParse("order-42:retry_1").success).toBe(true);
  });

  it("rejects empty, over-long, spaces and non-ASCII keys", () => {
    for (const key of ["", "k".repeat(256), "two words", "clé", "tab\t"]) {
      expect(IdempotencyKeySchema.safeParse(key).success).toBe(false);
    }
  });
});
