import { env } from "cloudflare:workers";
import type { Block } from "@bd3-serve/shared";
import { jobCapability } from "../../src/auth/capability.ts";
import { call } from "./api.ts";
import { lapseLease } from "./job-object.ts";

/** A capability for `jobId` as the edge mints it, valid for an hour. */
export function capabilityFor(jobId: string, expiresAtMs = Date.now() + 3_600_000): Promise<string> {
  return jobCapability(env.WORKER_CAPABILITY_SECRET!, jobId, expiresAtMs);
}

/** Plays the GPU worker's side of docs/worker-api.md against the edge. */
export async function workerCall(jobId: string, action: string, body: unknown, capability?: string) {
  const bearer = capability ?? (await capabilityFor(jobId));
  return call("POST", `/internal/v1/jobs/${jobId}/${action}`, {
    key: null,
    body,
    headers: { Authorization: `Bearer ${bearer}` },
  });
}

export async function lease(
  jobId: string,
  workerId = "worker-1",
): Promise<{ epoch: number } & Record<string, unknown>> {
  const response = await workerCall(jobId, "lease", { worker_id: workerId });
  if (response.status !== 200) throw new Error(`lease answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { epoch: number };
}

/** Another worker leases the job after the current holder's lease lapsed (the holder crashed). */
export async function takeOver(jobId: string, workerId: string) {
  await lapseLease(jobId);
  return lease(jobId, workerId);
}

/** A block whose text and token ids are derived from its index, so duplicates compare equal. */
export function blockOf(index: number, text = `block ${index}. `) {
  const tokenIds = Array.from(text, (char) => char.charCodeAt(0) % 256);
  const block: Block = { index, text, token_count: tokenIds.length };
  return { block, token_ids: tokenIds };
}

export function append(jobId: string, epoch: number, index: number, text?: string, finishReason?: string) {
  return workerCall(jobId, "blocks", {
    epoch,
    ...blockOf(index, text),
    ...(finishReason !== undefined ? { finish_reason: finishReason } : {}),
  });
}

export function finish(jobId: string, epoch: number, finishReason = "eos") {
  return workerCall(jobId, "finish", {
    epoch,
    finish_reason: finishReason,
    usage: { prompt_tokens: 3, completion_tokens: 10, forwards: 20 },
  });
}

/** A block-stream record derived from its index like `blockOf`. */
export function recordOf(index: number, text = `block ${index}. `, finishReason?: string) {
  const { token_ids } = blockOf(index, text);
  return { index, text, token_ids, ...(finishReason !== undefined ? { finish_reason: finishReason } : {}) };
}

/** One batch on the job's block stream, as @durable-streams/client's IdempotentProducer sends it. */
export async function appendStream(
  jobId: string,
  { epoch, seq, producerId = "worker-1" }: { epoch: number; seq: number; producerId?: string },
  records: unknown[],
) {
  const capability = await capabilityFor(jobId);
  return call("POST", `/internal/v1/jobs/${jobId}/block-stream`, {
    key: null,
    body: records,
    headers: {
      Authorization: `Bearer ${capability}`,
      "Producer-Id": producerId,
      "Producer-Epoch": String(epoch),
      "Producer-Seq": String(seq),
    },
  });
}
