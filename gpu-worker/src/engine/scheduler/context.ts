/** Model facts and helpers every scheduler stage reads; built once per engine from the manifest. */
import type { ModelManifest } from "@bd3-serve/shared";
import type { KvLayout } from "../kv/layout.ts";
import type { BlockRandomness } from "../sampler/rng.ts";
import type { SoftmaxScratch } from "../sampler/softmax.ts";
import type { Tokenizer } from "../tokenizer/index.ts";

/** Supplies the randomness of output block `outputIndex` of a request (tests replay recorded noise). */
export type RandomnessFactory = (requestId: string, seed: number, outputIndex: number) => BlockRandomness;

export interface EngineContext {
  manifest: ModelManifest;
  blockSize: number;
  /** Blocks in the model's context: a block attends itself and the windowBlocks - 1 blocks before it. */
  windowBlocks: number;
  maskTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  vocabSize: number;
  tokenizer: Tokenizer;
  layout: KvLayout;
  blockBytes: number;
  minEntropyNats: number;
  randomnessFor: RandomnessFactory;
  scratch: SoftmaxScratch;
}
