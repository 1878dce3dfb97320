/**
 * The demo models' byte tokenizer: ids 0..255 are UTF-8 bytes, 256 is BOS/EOS and 257 is [MASK]
 * (docs/model-package.md). Special ids decode to nothing.
 */
import { EMPTY_BYTES, type Tokenizer } from "./tokenizer.ts";

const BYTE_TOKENS: Uint8Array[] = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));
const encoder = new TextEncoder();

export function createByteTokenizer(): Tokenizer {
  return {
    kind: "bytes",
    encode: (text) => Array.from(encoder.encode(text)),
    tokenBytes: (tokenId) => BYTE_TOKENS[tokenId] ?? EMPTY_BYTES,
  };
}
