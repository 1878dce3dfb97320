/**
 * Stopping criteria applied when a block is complete, in order: EOS (the first generated EOS ends the
 * document; it and everything after are dropped), max_tokens (the block is cut at the limit), stop sequences
 * (the text is cut where the earliest stop starts, tokens at the last token wholly before it), and the
 * degenerate-repetition check. Returns the block's kept tokens and text and why it stopped, if it did.
 * While the document goes on, text at the end of a block that could begin a stop sequence is held back and
 * opens the next block's text, so the concatenated text never contains a stop sequence, even one that spans
 * blocks; the block that ends the document releases whatever is held.
 */
import type { FinishReason } from "@bd3-serve/shared";
import type { IncrementalDetokenizer } from "../tokenizer/index.ts";
import { isDegenerateRepetition, REPETITION_WINDOW_TOKENS } from "./entropy.ts";
import { findStopSequence, heldBackLength } from "./stop-sequences.ts";

export interface StoppingState {
  eosTokenId: number;
  /** Tokens still allowed before max_tokens. */
  remainingTokens: number;
  stops: readonly string[];
  /** Decoded text not emitted yet because it may begin a stop sequence. */
  pendingText: string;
  /** Last generated tokens (at most the repetition window). */
  recentTokens: number[];
  minEntropyNats: number;
}

export interface FinishedBlock {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason | null;
  /** Text held back for the next block (empty when the document ends). */
  pendingText: string;
}

export function finishBlock(
  generated: readonly number[],
  state: StoppingState,
  detokenizer: IncrementalDetokenizer,
): FinishedBlock {
  let tokenIds = [...generated];
  let finishReason: FinishReason | null = null;
  const eosAt = tokenIds.indexOf(state.eosTokenId);
  if (eosAt >= 0) {
    tokenIds = tokenIds.slice(0, eosAt);
    finishReason = "eos";
  }
  if (tokenIds.length >= state.remainingTokens) {
    tokenIds = tokenIds.slice(0, state.remainingTokens);
    finishReason ??= "max_tokens";
  }
  const decoded = detokenizer.push(tokenIds);
  const pending = state.pendingText;
  let text = pending + decoded.text;
  let pendingText = "";
  const match = state.stops.length > 0 ? findStopSequence(text, state.stops) : null;
  if (match) {
    text = text.slice(0, match.index);
    const cut = match.index - pending.length;
    const keep = decoded.tokenEnds.findIndex((end) => end > cut);
    if (keep >= 0) tokenIds = tokenIds.slice(0, keep);
    finishReason = "stop_sequence";
  }
  if (finishReason === null) {
    const recent = [...state.recentTokens, ...tokenIds].slice(-REPETITION_WINDOW_TOKENS);
    if (isDegenerateRepetition(recent, state.minEntropyNats)) finishReason = "repetition";
  }
  if (finishReason === null) {
    const held = heldBackLength(text, state.stops);
    pendingText = text.slice(text.length - held);
    text = text.slice(0, text.length - held);
  } else {
    detokenizer.finish();
  }
  return { tokenIds, text, finishReason, pendingText };
}
