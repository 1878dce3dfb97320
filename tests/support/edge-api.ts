/**
 * The edge's public API as a client calls it (the dev API key, JSON): create, get, cancel, the committed
 * blocks, and waiting for a job to reach a state.
 */
import type { Block, BlockPage, JobView, SamplingParams } from "@bd3-serve/shared";
import { API_KEY, stackAddresses } from "./stack-env.ts";
import { MODEL_NAME } from "./test-model.ts";
import { waitFor } from "./wait-for.ts";

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const reply = await fetch(`${stackAddresses().edgeUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", ...init.headers },
  });
  return { status: reply.status, body: (await reply.json()) as T };
}

export type JobParams = Partial<Omit<SamplingParams, "seed">> & { seed?: number };

/** What a create may set beside the sampling params: the model (default: the test model) and the priority. */
export type JobOptions = JobParams & { model?: string; priority?: number };

export async function createJob(prompt: string, params: JobOptions = {}): Promise<JobView> {
  const { status, body } = await api<JobView>("/v1/generations", {
    method: "POST",
    body: JSON.stringify({ model: MODEL_NAME, prompt, ...params }),
  });
  if (status !== 202 && status !== 200) throw new Error(`create failed (${status}): ${JSON.stringify(body)}`);
  return body;
}

export async function getJob(id: string): Promise<JobView> {
  const { status, body } = await api<JobView>(`/v1/generations/${id}`);
  if (status !== 200) throw new Error(`get failed (${status}): ${JSON.stringify(body)}`);
  return body;
}

export async function cancelJob(id: string): Promise<{ status: number; body: JobView }> {
  return api<JobView>(`/v1/generations/${id}/cancel`, { method: "POST", body: "{}" });
}

/** Every committed block, in order (all pages). */
export async function getBlocks(id: string): Promise<Block[]> {
  const blocks: Block[] = [];
  let after = -1;
  for (;;) {
    const { body } = await api<BlockPage>(`/v1/generations/${id}/blocks?after=${after}&limit=1000`);
    blocks.push(...body.data);
    if (!body.has_more || body.next_after === null) return blocks;
    after = body.next_after;
  }
}

export function waitForJob(id: string, predicate: (job: JobView) => boolean, what: string, timeoutMs = 60_000) {
  return waitFor(
    what,
    async () => {
      const job = await getJob(id);
      return predicate(job) ? job : undefined;
    },
    { timeoutMs },
  );
}
