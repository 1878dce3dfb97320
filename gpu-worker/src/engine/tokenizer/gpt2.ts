/**
 * GPT-2 BPE (r50k_base: 50257 ids, 50256 = `<|endoftext|>`), offline through js-tiktoken's bundled ranks.
 * Encoding uses js-tiktoken; decoding uses our own id -> bytes table (built once from the same ranks) so a
 * block can be decoded token by token without losing bytes of a character split across tokens.
 */
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { EMPTY_BYTES, type Tokenizer } from "./tokenizer.ts";

/** Parses tiktoken's compressed rank text: lines of "<prefix> <first rank> <base64 token> <base64 token> ...". */
export function parseRankBytes(bpeRanks: string): Uint8Array[] {
  const table: Uint8Array[] = [];
  for (const line of bpeRanks.split("\n")) {
    if (line.length === 0) continue;
    const [, offsetText, ...tokens] = line.split(" ");
    const offset = Number.parseInt(offsetText ?? "", 10);
    tokens.forEach((token, i) => {
      table[offset + i] = new Uint8Array(Buffer.from(token, "base64"));
    });
  }
  return table;
}

let cached: Tokenizer | undefined;

export function createGpt2Tokenizer(): Tokenizer {
  if (cached) return cached;
  const encoding = new Tiktoken(gpt2Ranks);
  const table = parseRankBytes(gpt2Ranks.bpe_ranks);
  cached = {
    kind: "gpt2",
    // No special tokens are recognised in prompts: "<|endoftext|>" typed by a user is text.
    encode: (text) => encoding.encode(text, [], []),
    tokenBytes: (tokenId) => table[tokenId] ?? EMPTY_BYTES,
  };
  return cached;
}
