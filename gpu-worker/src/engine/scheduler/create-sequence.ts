/**
 * Turns a request into a waiting sequence: tokenizes the prompt, lays out the clean tokens
 * (BOS + prompt + resumed tokens) as full blocks to cache plus a tail that opens the first block to denoise,
 * replays resumed tokens through the detokenizer and the stopping state, and sizes the KV reservation.
 */

import { REPETITION_WINDOW_TOKENS } from "../stopping/entropy.ts";
import { heldBackLength } from "../stopping/stop-sequences.ts";
import { IncrementalDetokenizer } from "../tokenizer/index.ts";
import type { GenerationRequest } from "../types.ts";
import { startBlock } from "./blocks.ts";
import type { EngineContext } from "./context.ts";
import type { Sequence } from "./sequence.ts";

export class RequestRejectedError extends Error {
  override readonly name = "RequestRejectedError";
}

export function createSequence(request: GenerationRequest, context: EngineContext): Sequence {
  const { blockSize, windowBlocks, tokenizer } = context;
  const committed = request.committedTokenIds ?? [];
  const startBlockIndex = request.startBlockIndex ?? 0;
  if (!Number.isInteger(startBlockIndex) || startBlockIndex < 0) {
    throw new RequestRejectedError("startBlockIndex must be a non-negative integer");
  }
  if (startBlockIndex === 0 && committed.length > 0) {
    throw new RequestRejectedError("committedTokenIds given without startBlockIndex");
  }
  for (const tokenId of committed) {
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= context.vocabSize || tokenId === context.maskTokenId) {
      throw new RequestRejectedError(`committed token id ${tokenId} is not a token of this model`);
    }
  }
  const params = request.params;
  const remainingTokens = params.max_tokens - committed.length;
  if (remainingTokens <= 0) throw new RequestRejectedError("max_tokens already reached by the committed tokens");

  const promptIds = tokenizer.encode(request.prompt);
  const clean = [context.bosTokenId, ...promptIds, ...committed];
  const fullBlocks = Math.floor(clean.length / blockSize);
  const cleanQueue = Array.from({ length: fullBlocks }, (_, blockIndex) => ({
    blockIndex,
    tokens: Int32Array.from(clean.slice(blockIndex * blockSize, (blockIndex + 1) * blockSize)),
  }));
  const tail = clean.slice(fullBlocks * blockSize);

  const detokenizer = new IncrementalDetokenizer(tokenizer);
  // Text of the resumed tokens that may begin a stop sequence was held back by the run that made them.
  const replayed = detokenizer.push(committed).text;
  const pendingText = replayed.slice(replayed.length - heldBackLength(replayed, params.stop));
  const totalBlocks = Math.ceil((clean.length + remainingTokens) / blockSize);
  const capacityBlocks = Math.max(0, Math.min(windowBlocks - 1, totalBlocks - 1));

  const sequence: Sequence = {
    requestId: request.requestId,
    params,
    status: "waiting",
    promptTokens: promptIds.length,
    initialCleanTokens: clean.length,
    capacityBlocks,
    reservedBytes: capacityBlocks * context.blockBytes,
    kv: null,
    reservation: null,
    cleanQueue,
    block: null,
    completionTokens: committed.length,
    forwards: 0,
    stopping: {
      eosTokenId: context.eosTokenId,
      remainingTokens,
      stops: params.stop,
      pendingText,
      recentTokens: committed.slice(-REPETITION_WINDOW_TOKENS),
      minEntropyNats: context.minEntropyNats,
    },
    detokenizer,
    finishReason: null,
  };
  startBlock(sequence, fullBlocks, startBlockIndex, tail, context);
  return sequence;
}
