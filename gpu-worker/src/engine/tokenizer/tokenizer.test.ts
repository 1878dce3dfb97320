import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createByteTokenizer } from "./bytes.ts";
import { createGpt2Tokenizer } from "./gpt2.ts";
import { IncrementalDetokenizer } from "./index.ts";

describe("byte tokenizer", () => {
  it("maps text to its UTF-8 bytes and special ids to nothing", () => {
    const tokenizer = createByteTokenizer();
    expect(tokenizer.encode("hé")).toEqual([104, 0xc3, 0xa9]);
    expect(tokenizer.tokenBytes(256)).toHaveLength(0);
    expect(tokenizer.tokenBytes(257)).toHaveLength(0);
  });
});

describe("GPT-2 tokenizer", () => {
  const tokenizer = createGpt2Tokenizer();

  it("encodes offline with r50k_base ranks", () => {
    expect(tokenizer.encode("Hello world")).toEqual([15496, 995]);
  });

  it("treats special-token text in a prompt as text", () => {
    expect(tokenizer.encode("<|endoftext|>")).not.toContain(50256);
  });

  it("decodes every token to the bytes it was built from", () => {
    const text = "Block diffusion — naïve café 東京 🚀";
    const ids = tokenizer.encode(text);
    const detokenizer = new IncrementalDetokenizer(tokenizer);
    expect(detokenizer.push(ids).text).toBe(text);
    expect(tokenizer.tokenBytes(50256)).toHaveLength(0);
  });
});

describe("incremental detokenization", () => {
  it("never ends a block in half a UTF-8 character, and loses nothing", () => {
    const tokenizer = createByteTokenizer();
    fc.assert(
      fc.property(
        // U+FFFD itself is left out: a text may legitimately end in it, which the check below could not tell
        // from a half character.
        fc.string({ unit: "grapheme", maxLength: 40 }).filter((text) => !text.includes("\uFFFD")),
        fc.array(fc.nat(8), { maxLength: 20 }),
        (text, cuts) => {
          const ids = tokenizer.encode(text);
          const detokenizer = new IncrementalDetokenizer(tokenizer);
          let position = 0;
          let joined = "";
          for (const cut of [...cuts, ids.length]) {
            const end = Math.min(ids.length, position + cut);
            const piece = detokenizer.push(ids.slice(position, end)).text;
            expect(piece).not.toMatch(/\uFFFD$/);
            const last = piece.charCodeAt(piece.length - 1);
            expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
            joined += piece;
            position = end;
          }
          expect(joined).toBe(text);
        },
      ),
    );
  });

  it("reports where each token's text ends", () => {
    const tokenizer = createByteTokenizer();
    const decoded = new IncrementalDetokenizer(tokenizer).push(tokenizer.encode("aé"));
    expect(decoded).toEqual({ text: "aé", tokenEnds: [1, 1, 2] });
  });
});
