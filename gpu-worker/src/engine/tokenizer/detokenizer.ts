/**
 * Incremental detokenization: token ids become text block by block, and a block's text never ends in half
 * a UTF-8 character. Bytes of an unfinished character are held back and open the next block's text. Per
 * token character offsets let the stopping logic cut a block's tokens at a stop sequence.
 */
import type { Tokenizer } from "./tokenizer.ts";

export interface DecodedTokens {
  text: string;
  /** `tokenEnds[i]` = length (UTF-16 units) of `text` once token i is decoded. */
  tokenEnds: number[];
}

export class IncrementalDetokenizer {
  private decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Decodes `tokenIds` after everything pushed before; a trailing incomplete character is held back. */
  push(tokenIds: readonly number[]): DecodedTokens {
    let text = "";
    const tokenEnds: number[] = [];
    for (const tokenId of tokenIds) {
      text += this.decoder.decode(this.tokenizer.tokenBytes(tokenId), { stream: true });
      tokenEnds.push(text.length);
    }
    return { text, tokenEnds };
  }

  /** Ends the document: bytes of an unfinished character are dropped (never emitted as U+FFFD). */
  finish(): void {
    this.decoder = new TextDecoder("utf-8", { fatal: false });
  }
}
