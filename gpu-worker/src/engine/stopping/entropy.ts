/**
 * The reference sampler's degenerate-repetition check: the entropy (nats) of the token histogram of the last
 * 256 tokens. The reference stops below 4 nats for GPT-2 tokens; byte-level text is far less diverse (English
 * runs ~2.8 nats per byte), so byte models use a lower floor that still catches loops like "the the the".
 */
import type { TokenizerKind } from "@bd3-serve/shared";

export const REPETITION_WINDOW_TOKENS = 256;
export const REPETITION_MIN_ENTROPY_NATS: Record<TokenizerKind, number> = { gpt2: 4, bytes: 2 };

/** Entropy in nats of the empirical distribution of `tokens`. */
export function tokenEntropyNats(tokens: readonly number[]): number {
  if (tokens.length === 0) return 0;
  const counts = new Map<number, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  let entropy = 0;
  for (const count of counts.values()) {
    const p = count / tokens.length;
    entropy -= p * Math.log(p);
  }
  return entropy;
}

/** True when the last window of generated tokens is degenerate (checked only once a full window exists). */
export function isDegenerateRepetition(recentTokens: readonly number[], minEntropyNats: number): boolean {
  if (recentTokens.length < REPETITION_WINDOW_TOKENS) return false;
  return tokenEntropyNats(recentTokens.slice(-REPETITION_WINDOW_TOKENS)) < minEntropyNats;
}
