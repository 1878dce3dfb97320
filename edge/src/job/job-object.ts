import { DurableObject } from "cloudflare:workers";
import {
  type AppendBlockRequest,
  type BlockPage,
  type FailRequest,
  type FinishRequest,
  type HeartbeatRequest,
  isTerminalJobStatus,
  type JobSummary,
  type JobView,
  type LeaseRequest,
  type Metadata,
  type WebhookConfig,
  type WebhookDeliveryPage,
} from "@bd3-serve/shared";
import { ALARM_TASK_RETRY_MS, ENQUEUE_TIMEOUT_MS } from "../config/constants.ts";
import type { Env } from "../env.ts";
import { runAlarm } from "./job-alarm.ts";
import { JobCore, TASK } from "./job-core.ts";
import { jobIdOf } from "./job-id.ts";
import type { JobParams, JobRecord } from "./job-store.ts";
import { toJobSummary, toJobView } from "./job-view.ts";
import { blockEvent, doneEvent } from "./sse-hub.ts";
import * as worker from "./worker-calls.ts";

/** The alarm takes over a create's SQS send if the first attempt has not finished by then. */
const ENQUEUE_SAFETY_NET_MS = ENQUEUE_TIMEOUT_MS * 2;

/** Response headers of an SSE stream: no caching, no proxy buffering. */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  "X-Accel-Buffering": "no",
};

export interface CreateJobInput {
  tenantId: string;
  /** SHA-256 of the canonical request: an Idempotency-Key reused with another body is refused. */
  requestHash: string;
  model: string;
  prompt: string;
  params: JobParams;
  metadata: Metadata;
  webhook: WebhookConfig | null;
  baseUrl: string;
}

export type CreateJobResult = { kind: "created" | "replayed"; view: JobView } | { kind: "mismatch" };

/**
 * One generation job: its state machine, block log, SSE fan-out and webhook outbox (see job-core.ts,
 * job-store.ts). The object id is the job id, derived from tenant + Idempotency-Key when one is given,
 * so two concurrent creates with one key land here and the second sees the first's row (the SQLite
 * check-then-insert is synchronous and cannot interleave).
 *
 * Lifecycle: created by `create`, driven by worker calls and the public cancel, finalised on a terminal
 * status, deleted by the `retention` task. Storage tables are created only by `create`, so probing a random
 * (valid) id never leaves state behind. All tenant-facing methods answer null for another tenant's job.
 */
export class JobObject extends DurableObject<Env> {
  readonly core: JobCore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.core = new JobCore(ctx, env);
  }

  async create(input: CreateJobInput): Promise<CreateJobResult> {
    const { core } = this;
    core.ensureSchema();
    const existing = core.store.read();
    if (existing !== null) {
      if (existing.tenantId !== input.tenantId || existing.requestHash !== input.requestHash)
        return { kind: "mismatch" };
      return { kind: "replayed", view: toJobView(existing, core.store.text()) };
    }
    const now = core.now();
    const job: JobRecord = {
      id: jobIdOf(this.ctx.id),
      tenantId: input.tenantId,
      status: "queued",
      model: input.model,
      prompt: input.prompt,
      params: input.params,
      metadata: input.metadata,
      webhook: input.webhook,
      requestHash: input.requestHash,
      baseUrl: input.baseUrl,
      epoch: 0,
      workerId: null,
      numBlocks: 0,
      numTokens: 0,
      finishReason: null,
      usage: null,
      error: null,
      isStalled: false,
      cancelRequestedAt: null,
      lastHeartbeatAt: null,
      retryableFailures: 0,
      enqueueAttempts: 0,
      enqueuedAt: null,
      statusVersion: 1,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
    };
    core.store.insert(job);
    core.schedule.set(TASK.expire, now + core.config.queueDeadlineMs);
    core.schedule.set(TASK.indexSync, now + ALARM_TASK_RETRY_MS);
    core.schedule.set(TASK.enqueue, now + ENQUEUE_SAFETY_NET_MS);
    await core.schedule.arm();
    // The tenant index update and the SQS send run after the answer (the index object may sit in another
    // region; SQS is a network call). The schedule rows above are their durable intent: the alarm redoes
    // whichever did not complete, so neither can be lost, and a list shows a new job within milliseconds.
    core.inBackground(
      core
        .settle()
        .then(() => core.enqueue(job))
        .then(() => core.settle()),
    );
    return { kind: "created", view: toJobView(core.store.read() ?? job, core.store.text()) };
  }

  view(tenantId: string): JobView | null {
    const job = this.core.jobFor(tenantId);
    return job ? toJobView(job, this.core.store.text()) : null;
  }

  summary(tenantId: string): JobSummary | null {
    const job = this.core.jobFor(tenantId);
    return job ? toJobSummary(job) : null;
  }

  /** Holds the answer until the job is terminal or `timeoutMs` passed (`Prefer: wait=N`). */
  async waitForTerminal(tenantId: string, timeoutMs: number): Promise<JobView | null> {
    const job = this.core.jobFor(tenantId);
    if (job === null) return null;
    if (!isTerminalJobStatus(job.status)) await this.core.waitForTerminal(timeoutMs);
    return this.view(tenantId);
  }

  blocks(tenantId: string, after: number, limit: number): BlockPage | null {
    if (this.core.jobFor(tenantId) === null) return null;
    const rows = this.core.store.blocksAfter(after, limit + 1);
    const data = rows.slice(0, limit);
    return { object: "list", data, has_more: rows.length > limit, next_after: data.at(-1)?.index ?? null };
  }

  /**
   * SSE over the object's fetch (an HTTP body copes with a client that goes away; an RPC stream reports
   * it as an uncaught error): `GET /stream?tenant=&after=`. Every block after `after`, then live blocks,
   * then `done`. Catch-up is read and the subscriber registered in one synchronous turn, so the stream
   * has each block exactly once. 404 for another tenant's job.
   */
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const job = this.core.jobFor(url.searchParams.get("tenant") ?? "");
    if (url.pathname !== "/stream" || job === null) return new Response(null, { status: 404 });
    const after = Number(url.searchParams.get("after") ?? "-1");
    const frames = this.core.store.blocksAfter(after, Number.MAX_SAFE_INTEGER).map(blockEvent);
    const terminal = isTerminalJobStatus(job.status);
    if (terminal) frames.push(doneEvent(toJobSummary(job)));
    return new Response(this.core.hub.open(frames, { close: terminal }), { headers: SSE_HEADERS });
  }

  /**
   * Idempotent cancel. A queued job is canceled at once; a running one gets a cancel request that the
   * worker sees in its next reply (`is_canceled`), and the `cancel_deadline` task cancels it anyway if the
   * worker does not stop in time. `isPending` tells the caller which happened.
   */
  async cancel(tenantId: string): Promise<{ view: JobView; isPending: boolean } | null> {
    const { core } = this;
    const job = core.jobFor(tenantId);
    if (job === null) return null;
    if (job.status === "queued") {
      core.transition(job, "cancel", { finishReason: "canceled" });
    } else if (job.status === "running" && job.cancelRequestedAt === null) {
      const now = core.now();
      core.store.update({ cancelRequestedAt: now });
      core.schedule.set(TASK.cancelDeadline, now + core.config.cancelGraceMs);
    }
    await core.settle();
    const view = this.view(tenantId);
    return view ? { view, isPending: !isTerminalJobStatus(view.status) } : null;
  }

  deliveries(tenantId: string): WebhookDeliveryPage | null {
    if (this.core.jobFor(tenantId) === null) return null;
    return { object: "list", data: this.core.outbox.list() };
  }

  async lease(request: LeaseRequest) {
    return this.afterWorkerCall(worker.lease(this.core, request));
  }

  async appendBlock(request: AppendBlockRequest) {
    return this.afterWorkerCall(worker.appendBlock(this.core, request));
  }

  async heartbeat(request: HeartbeatRequest) {
    return this.afterWorkerCall(worker.heartbeat(this.core, request));
  }

  async finish(request: FinishRequest) {
    return this.afterWorkerCall(worker.finish(this.core, request));
  }

  async fail(request: FailRequest) {
    return this.afterWorkerCall(worker.fail(this.core, request));
  }

  override async alarm(): Promise<void> {
    await runAlarm(this.core);
  }

  private async afterWorkerCall<T>(result: T): Promise<T> {
    await this.core.settle();
    return result;
  }
}
