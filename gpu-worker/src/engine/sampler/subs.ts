/**
 * SUBS parameterisation on one position's logits: the [MASK] logit is removed (the model never predicts
 * [MASK]) and positions that are already revealed keep their token. The sampler only ever runs on masked
 * positions, so "keep revealed tokens" is the caller not touching them; what remains is the argmax / max
 * logit over the vocabulary without [MASK].
 */

export interface LogitPeak {
  /** Token with the largest logit, [MASK] excluded. */
  argmax: number;
  maxLogit: number;
}

/** Largest logit of `logits[offset .. offset + vocabSize)` with `maskTokenId` excluded. */
export function subsPeak(logits: Float32Array, offset: number, vocabSize: number, maskTokenId: number): LogitPeak {
  let argmax = -1;
  let maxLogit = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < vocabSize; v++) {
    if (v === maskTokenId) continue;
    const logit = logits[offset + v] as number;
    if (logit > maxLogit) {
      maxLogit = logit;
      argmax = v;
    }
  }
  if (argmax < 0) {
    // Every logit is -Infinity or NaN: fall back to the first real token so sampling never stalls.
    argmax = maskTokenId === 0 ? 1 : 0;
    maxLogit = 0;
  }
  return { argmax, maxLogit };
}
