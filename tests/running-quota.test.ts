/**
 * Issue 17, the running-jobs quota on the whole stack (fauxqs, the edge bundled as deployed in Miniflare, the
 * real worker and engine): a tenant with `max_running_jobs: 1` and a worker with room for two jobs. Both jobs
 * are in the queue when the worker starts, so it takes both in one receive and leases both at once; the edge
 * turns one lease back (409 `tenant_running_limit`), the worker re-sends that message with a delay, and the
 * job starts only after the other one ended. Both complete with the text the engine writes for them.
 *
 * QUOTAS is configuration, read once per isolate, and the shared stack (support/global-setup.ts) sets none: a
 * quota there would hold the dev tenant every other file uses. So this file starts a stack of its own with
 * the quota for one dedicated tenant, whose key it mints with the dev (admin) key, and points its worker at it.
 */
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { CreatedApiKey, JobView } from "@bd3-serve/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqsClient } from "../gpu-worker/src/runtime/queue/job-queue.ts";
import { type LocalStack, startLocalStack } from "../scripts/local-stack.ts";
import { useStackFixture } from "./support/hooks.ts";
import { API_KEY, counterValues, MODEL_NAME, uninterruptedText, waitFor } from "./support/stack.ts";

const TENANT = "tenant_running_stack";
const QUOTAS = JSON.stringify({ tenants: { [TENANT]: { max_running_jobs: 1 } } });
/** A few blocks: long enough to be running when the other lease arrives, short enough to keep the file fast. */
const MAX_TOKENS = 64;
const PROMPT = "In the beginning";

const fixture = useStackFixture({ slowEdge: false });
let stack: LocalStack | undefined;
let tenantKey = "";

function ownStack(): LocalStack {
  if (stack === undefined) throw new Error("the file's stack did not start");
  return stack;
}

async function api<T>(path: string, key: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${ownStack().edgeUrl}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function view(id: string): Promise<JobView> {
  const { status, body } = await api<JobView>(`/v1/generations/${id}`, tenantKey);
  if (status !== 200) throw new Error(`get ${id} answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

async function visibleMessages(): Promise<number> {
  const sqs = createSqsClient({
    endpoint: ownStack().sqsEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "t", secretAccessKey: "t" },
  });
  const reply = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: ownStack().queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  return Number(reply.Attributes?.ApproximateNumberOfMessages ?? 0);
}

const ms = (instant: string | null) => Date.parse(instant ?? "");

beforeAll(async () => {
  stack = await startLocalStack({ defaultModel: MODEL_NAME, vars: { QUOTAS } });
  const created = await api<CreatedApiKey>("/v1/admin/keys", API_KEY, {
    tenant_id: TENANT,
    name: "running quota test",
    scopes: ["generations:write", "generations:read"],
  });
  if (created.status !== 201) throw new Error(`key create answered ${created.status}`);
  tenantKey = created.body.key;
}, 180_000);
afterAll(() => stack?.stop());

describe("max_running_jobs", () => {
  it("runs a tenant's jobs one at a time on a worker with room for two; both complete with their text", async () => {
    const jobs: JobView[] = [];
    for (const seed of [11, 12]) {
      const { status, body } = await api<JobView>("/v1/generations", tenantKey, {
        model: MODEL_NAME,
        prompt: PROMPT,
        max_tokens: MAX_TOKENS,
        seed,
      });
      expect(status, JSON.stringify(body)).toBe(202);
      jobs.push(body);
    }
    const [first, second] = jobs as [JobView, JobView];
    // Both messages queued before the worker polls: it receives them together and leases both at once.
    await waitFor("both messages in the queue", async () => ((await visibleMessages()) === 2 ? true : undefined));
    const { worker } = await fixture.startInProcessWorker({
      SQS_QUEUE_URL: ownStack().queueUrl,
      SQS_ENDPOINT: ownStack().sqsEndpoint,
      EDGE_URL: ownStack().edgeUrl,
      MAX_BATCH_SIZE: "2",
    });

    // Each poll reads one job between two reads of the other: if the outer job is running at both reads and the
    // inner one at its read, both really ran at that instant (a job runs once: queued -> running -> ended).
    let rounds = 0;
    const done = await waitFor(
      "both jobs to end",
      async () => {
        const [outer, inner] = rounds++ % 2 === 0 ? [first, second] : [second, first];
        const before = await view(outer.id);
        const middle = await view(inner.id);
        const after = await view(outer.id);
        const isBothRunning = [before, middle, after].every((job) => job.status === "running");
        expect(isBothRunning, `both running: ${outer.id} and ${inner.id}`).toBe(false);
        const ended = [middle, after].every((job) => job.finished_at !== null);
        return ended ? (outer === first ? [after, middle] : [middle, after]) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20 },
    );

    const [firstDone, secondDone] = done as [JobView, JobView];
    expect([firstDone.status, secondDone.status]).toEqual(["succeeded", "succeeded"]);
    const [earlier, later] = ms(firstDone.started_at) <= ms(secondDone.started_at) ? done : [done[1], done[0]];
    expect(ms(later!.started_at)).toBeGreaterThanOrEqual(ms(earlier!.finished_at));
    // The limit was met (not merely a second receive after the first job ended): a lease was turned back.
    expect((await counterValues(worker, "jobs")).lease_held).toBeGreaterThanOrEqual(1);
    for (const job of done) {
      expect(job.text).toBe(await uninterruptedText(PROMPT, job.params));
      expect(job.text?.length).toBeGreaterThan(0);
    }
  }, 120_000);
});
