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

/** Largest logit of `logits[offset .. offset + vocabSize)` with `maskTokenId` excluded (the first on ties). */
export function subsPeak(logits: Float32Array, offset: number, vocabSize: number, maskTokenId: number): LogitPeak {
  // Two ranges around [MASK] instead of a test per token (a hot loop: 50k tokens per sampled position).
  const below = peakOfRange(logits, offset, 0, Math.min(maskTokenId, vocabSize));
  const above = peakOfRange(logits, offset, Math.max(0, maskTokenId + 1), vocabSize);
  const peak = above.maxLogit > below.maxLogit ? above : below;
  if (peak.argmax < 0) {
    // Every logit is -Infinity or NaN: fall back to the first real token so sampling never stalls.
    return { argmax: maskTokenId === 0 ? 1 : 0, maxLogit: 0 };
  }
  return peak;
}

function peakOfRange(logits: Float32Array, offset: number, from: number, to: number): LogitPeak {
  let argmax = -1;
  let maxLogit = Number.NEGATIVE_INFINITY;
  for (let v = from; v < to; v++) {
    const logit = logits[offset + v] as number;
    if (logit > maxLogit) {
      maxLogit = logit;
      argmax = v;
    }
  }
  return { argmax, maxLogit };
}
