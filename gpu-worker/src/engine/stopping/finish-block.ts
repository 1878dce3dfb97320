/**
 * Stopping criteria applied when a block is complete, in order: EOS (the first generated EOS ends the
 * document; it and everything after are dropped), max_tokens (the block is cut at the limit), stop sequences
 * (the text is cut where the earliest stop starts, tokens at the last token wholly before it), and the
 * degenerate-repetition check. Returns the block's kept tokens and text and why it stopped, if it did.
 */
import type { FinishReason } from "@bd3-serve/shared";
import type { IncrementalDetokenizer } from "../tokenizer/index.ts";
import { isDegenerateRepetition, REPETITION_WINDOW_TOKENS } from "./entropy.ts";
import { findStopSequence } from "./stop-sequences.ts";

export interface StoppingState {
  eosTokenId: number;
  /** Tokens still allowed before max_tokens. */
  remainingTokens: number;
  stops: readonly string[];
  /** Tail of the text emitted so far (enough for the longest stop sequence). */
  textTail: string;
  /** Last generated tokens (at most the repetition window). */
  recentTokens: number[];
  minEntropyNats: number;
}

export interface FinishedBlock {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason | null;
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
  let text = decoded.text;
  if (state.stops.length > 0) {
    const searched = state.textTail + text;
    const match = findStopSequence(searched, state.stops);
    if (match) {
      const cut = Math.max(0, match.index - state.textTail.length);
      text = text.slice(0, cut);
      const keep = decoded.tokenEnds.findIndex((end) => end > cut);
      if (keep >= 0) tokenIds = tokenIds.slice(0, keep);
      finishReason = "stop_sequence";
    }
  }
  if (finishReason === null) {
    const recent = [...state.recentTokens, ...tokenIds].slice(-REPETITION_WINDOW_TOKENS);
    if (isDegenerateRepetition(recent, state.minEntropyNats)) finishReason = "repetition";
  }
  if (finishReason !== null) detokenizer.finish();
  return { tokenIds, text, finishReason };
}
