/** What the engine needs from a tokenizer: text -> ids for prompts, id -> bytes for detokenization. */
export interface Tokenizer {
  readonly kind: "bytes" | "gpt2";
  /** Prompt text to ids; special-token strings in the text are plain text. */
  encode(text: string): number[];
  /** UTF-8 bytes of one token; special tokens ([MASK], BOS/EOS) decode to nothing. */
  tokenBytes(tokenId: number): Uint8Array;
}

export const EMPTY_BYTES = new Uint8Array(0);
