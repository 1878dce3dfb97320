/** Stop-sequence search over the held-back text plus the new block's text. */

export interface StopMatch {
  /** Index in the searched text where the earliest stop sequence starts. */
  index: number;
  stop: string;
}

/** Earliest occurrence of any stop sequence in `text` that ends at or after `searchFrom`. */
export function findStopSequence(text: string, stops: readonly string[], searchFrom = 0): StopMatch | null {
  let best: StopMatch | null = null;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const index = text.indexOf(stop, Math.max(0, searchFrom - stop.length + 1));
    if (index >= 0 && (best === null || index < best.index)) best = { index, stop };
  }
  return best;
}

/**
 * Length of the longest suffix of `text` that begins some stop sequence (and is shorter than it): text that
 * must be held back from a block because the next block may complete a stop sequence with it.
 */
export function heldBackLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let length = Math.min(stop.length - 1, text.length); length > longest; length--) {
      if (text.endsWith(stop.slice(0, length))) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}
