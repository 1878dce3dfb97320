import type { TokenizerKind } from "@bd3-serve/shared";
import { createByteTokenizer } from "./bytes.ts";
import { createGpt2Tokenizer } from "./gpt2.ts";
import type { Tokenizer } from "./tokenizer.ts";

export type { DecodedTokens } from "./detokenizer.ts";
export { IncrementalDetokenizer } from "./detokenizer.ts";
export type { Tokenizer } from "./tokenizer.ts";

/** The tokenizer a manifest names. */
export function createTokenizer(kind: TokenizerKind): Tokenizer {
  switch (kind) {
    case "bytes":
      return createByteTokenizer();
    case "gpt2":
      return createGpt2Tokenizer();
  }
}
