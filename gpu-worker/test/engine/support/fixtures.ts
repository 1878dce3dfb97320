/**
 * Sampler fixtures recorded by the Python reference sampler (model/bd3lm_toolkit/fixtures.py): per block the
 * revealed position and the Exp(1) noise of each first-hitting step, and the block's tokens.
 */
import { readFileSync } from "node:fs";
import type { BlockRandomness } from "../../../src/engine/sampler/rng.ts";
import type { RandomnessFactory } from "../../../src/engine/scheduler/context.ts";

export interface FixtureStep {
  revealed: number;
  token: number;
  noise: string;
}

export interface FixtureBlock {
  index: number;
  start_position: number;
  past_length: number;
  prompt_tokens: number;
  steps: FixtureStep[];
  tokens: number[];
}

export interface SamplerFixture {
  note: string;
  package: string;
  vocab_size: number;
  eos_token_id: number;
  block_size: number;
  prompt_ids: number[];
  top_p: number;
  temperature: number;
  max_new_tokens: number;
  stop_on_eos: boolean;
  final_tokens: number[];
  stop_reason: "eos" | "length" | "entropy";
  forwards: number;
  blocks: FixtureBlock[];
}

export function readFixture(path: string): SamplerFixture {
  return JSON.parse(readFileSync(path, "utf8")) as SamplerFixture;
}

function decodeNoise(base64: string): Float32Array {
  const bytes = Buffer.from(base64, "base64");
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/** Randomness that replays the fixture: output block k is fixture block (first index + k). */
export function fixtureRandomness(fixture: SamplerFixture): RandomnessFactory {
  const firstIndex = fixture.blocks[0]?.index ?? 0;
  return (_requestId, _seed, outputIndex): BlockRandomness => {
    const block = fixture.blocks.find((candidate) => candidate.index === firstIndex + outputIndex);
    if (!block) throw new Error(`fixture has no block ${firstIndex + outputIndex}`);
    let stepIndex = -1;
    let noise: Float32Array = new Float32Array(0);
    return {
      uniform: () => {
        throw new Error("a first-hitting replay draws no uniforms");
      },
      choosePosition(masked) {
        stepIndex++;
        const step = block.steps[stepIndex];
        if (!step) throw new Error(`fixture block ${block.index} has no step ${stepIndex}`);
        if (!masked.includes(step.revealed)) throw new Error(`position ${step.revealed} is not masked`);
        noise = decodeNoise(step.noise);
        return step.revealed;
      },
      exponential: (position, tokenId) => noise[position * fixture.vocab_size + tokenId] as number,
    };
  };
}
