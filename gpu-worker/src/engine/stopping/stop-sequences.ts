/** Stop-sequence search over the text emitted so far plus the new block's text. */

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

/** Characters of earlier text to keep so a stop sequence spanning blocks is still found. */
export function stopLookbackLength(stops: readonly string[]): number {
  return stops.reduce((longest, stop) => Math.max(longest, stop.length - 1), 0);
}
