import { DurableObject } from "cloudflare:workers";
import {
  type AppendBlockReply,
  type AppendBlockRequest,
  type BlockPage,
  type BlockRecord,
  type FailRequest,
  type FinishRequest,
  type HeartbeatReply,
  type HeartbeatRequest,
  isTerminalJobStatus,
  type JobStatusReply,
  type JobSummary,
  type JobView,
  type LeaseReplyInput,
  type LeaseRequest,
  type ReleaseRequest,
  type WebhookDeliveryPage,
} from "@bd3-serve/shared";
import { ALARM_TASK_RETRY_MS, ENQUEUE_TIMEOUT_MS } from "../config/constants.ts";
import type { Env } from "../env.ts";
import type { ProducerHeaders } from "../stream/producer.ts";
import { admitToRunningQuota } from "../tenant/running-admission.ts";
import { appendBlock, appendBlockStream } from "./block-appends.ts";
import { blockEventStream, SSE_HEADERS } from "./block-events.ts";
import { readDocument } from "./document-reads.ts";
import { runAlarm } from "./job-alarm.ts";
import { JobCore } from "./job-core.ts";
import { jobIdOf } from "./job-id.ts";
import type { JobRecord } from "./job-record.ts";
import {
  type BlockStreamResult,
  type CancelResult,
  type CreateJobInput,
  type CreateJobResult,
  JOB_MISSING_HEADER,
  type WorkerCallResult,
} from "./job-rpc.ts";
import { summaryOf, viewOf } from "./job-view.ts";
import { isLiveRead, serveLiveReader } from "./live-readers.ts";
import { newJobRecord } from "./new-job.ts";
import { queuePlaceOf } from "./queue-place.ts";
import { TASK } from "./tasks.ts";
import * as worker from "./worker-calls.ts";

/** The alarm takes over a create's SQS send if the first attempt has not finished by then. */
const ENQUEUE_SAFETY_NET_MS = ENQUEUE_TIMEOUT_MS * 2;

/**
 * One generation job: its state machine, block log, SSE fan-out and webhook outbox (see README.md here).
 * The RPC surface of job-rpc.ts (`JobObjectRpc`), each method handing over to the part that does the work.
 * The object id is the job id, derived from tenant + Idempotency-Key when one is given, so two concurrent
 * creates with one key land here and the second sees the first's row (the SQLite check-then-insert is
 * synchronous and cannot interleave).
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
    // A new object (the usual create) holds nothing: its tables come in one batch and nothing is probed.
    const isNewObject = core.createTablesIfNew();
    const existing = isNewObject ? null : core.readJob();
    if (existing !== null) {
      if (existing.tenantId !== input.tenantId || existing.requestHash !== input.requestHash)
        return { kind: "mismatch" };
      return { kind: "replayed", view: viewOf(core, existing) };
    }
    const now = core.now();
    const job = newJobRecord(jobIdOf(this.ctx.id), input, core.config.queueDeadlineMs, now);
    core.store.insert(job);
    core.document.create(now, isNewObject);
    const tasks: Record<string, number> = {
      [TASK.expire]: job.startByAt ?? now + core.config.queueDeadlineMs,
      [TASK.ledger]: now + ALARM_TASK_RETRY_MS,
      [TASK.enqueue]: now + ENQUEUE_SAFETY_NET_MS,
    };
    if (input.isIndexed !== true) tasks[TASK.indexSync] = now + ALARM_TASK_RETRY_MS;
    core.schedule.setMany(tasks);
    await (isNewObject ? core.schedule.armNew(tasks) : core.schedule.arm());
    // The tenant index update, the queue ledger's ticket and the SQS send run after the answer (the index and
    // ledger objects may sit in another region; SQS is a network call). The schedule rows above are their
    // durable intent: the alarm redoes whichever did not complete, so none can be lost, and a list shows a new
    // job within milliseconds. The ticket is taken before the send, so tickets follow the queue's order.
    const { effects } = core;
    effects.inBackground(
      effects
        .settle()
        .then(() => effects.enqueue(job))
        .then(() => effects.settle()),
    );
    return { kind: "created", view: viewOf(core, job) };
  }

  /** The view, with a queued job's place in its queue (one ledger call); "gone" once retention deleted the text. */
  async view(tenantId: string): Promise<JobView | "gone" | null> {
    const job = this.core.jobFor(tenantId);
    if (job === null) return null;
    if (job.purgedAt !== null) return "gone";
    const place = await queuePlaceOf(this.core, job);
    return viewOf(this.core, this.core.readJob() ?? job, place);
  }

  summary(tenantId: string): JobSummary | null {
    const job = this.core.jobFor(tenantId);
    return job ? summaryOf(this.core, job) : null;
  }

  /** Holds the answer until the job is terminal or `timeoutMs` passed (`Prefer: wait=N`). */
  async waitForTerminal(tenantId: string, timeoutMs: number): Promise<JobView | null> {
    const job = this.core.jobFor(tenantId);
    if (job === null) return null;
    if (!isTerminalJobStatus(job.status)) await this.core.terminal.wait(timeoutMs);
    const view = await this.view(tenantId);
    return view === "gone" ? null : view;
  }

  blocks(tenantId: string, after: number, limit: number): BlockPage | "gone" | null {
    const job = this.core.jobFor(tenantId);
    if (job === null) return null;
    if (job.purgedAt !== null) return "gone";
    const data = this.core.blocks.blocksAfter(after, limit + 1);
    const page = data.slice(0, limit);
    return { object: "list", data: page, has_more: data.length > limit, next_after: page.at(-1)?.index ?? null };
  }

  /**
   * The document reads over the object's fetch (an HTTP body copes with a client that goes away; an RPC
   * stream reports it as an uncaught error), both paced by the reader:
   * - `GET /stream?tenant=&after=`: SSE block events (block-events.ts);
   * - `GET|HEAD /text?tenant=&offset=&live=&cursor=`: the document as a Durable Streams text stream,
   *   read-only (document-reads.ts).
   * 404 for another tenant's job (or none), 410 once retention deleted the text.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const job = this.core.jobFor(url.searchParams.get("tenant") ?? "");
    if (job === null) return new Response(null, { status: 404, headers: { [JOB_MISSING_HEADER]: "not_found" } });
    if (job.purgedAt !== null) return new Response(null, { status: 410, headers: { [JOB_MISSING_HEADER]: "gone" } });
    if (isLiveRead(url)) return serveLiveReader(this.core, job, () => this.read(job, url, request), request.signal);
    return this.read(job, url, request);
  }

  private async read(job: JobRecord, url: URL, request: Request): Promise<Response> {
    if (url.pathname === "/stream") {
      const after = Number(url.searchParams.get("after") ?? "-1");
      const body = blockEventStream(this.core, job.tenantId, after, this.core.config.sseKeepaliveMs, request.signal);
      return new Response(body, { headers: SSE_HEADERS });
    }
    if (url.pathname === "/text") return readDocument(this.core, job, request);
    return new Response(null, { status: 404, headers: { [JOB_MISSING_HEADER]: "not_found" } });
  }

  /**
   * Idempotent cancel. A queued job is canceled at once; a running one gets a cancel request that the
   * worker sees in its next reply (`is_canceled`), and the `cancel_deadline` task cancels it anyway if the
   * worker does not stop in time. `isPending` tells the caller which happened.
   */
  async cancel(tenantId: string): Promise<CancelResult | "gone" | null> {
    const { core } = this;
    const job = core.jobFor(tenantId);
    if (job === null) return null;
    if (job.purgedAt !== null) return "gone";
    if (job.status === "queued") {
      core.transition(job, "cancel", { finishReason: "canceled" });
    } else if (job.status === "running" && job.cancelRequestedAt === null) {
      const now = core.now();
      core.update({ cancelRequestedAt: now });
      core.schedule.set(TASK.cancelDeadline, now + core.config.cancelGraceMs);
    }
    await core.effects.settle();
    const view = await this.view(tenantId);
    if (view === null || view === "gone") return view;
    return { view, isPending: !isTerminalJobStatus(view.status) };
  }

  deliveries(tenantId: string): WebhookDeliveryPage | null {
    if (this.core.jobFor(tenantId) === null) return null;
    return { object: "list", data: this.core.outbox.list() };
  }

  /**
   * A first start passes the tenant's `max_running_jobs` first (tenant/running-admission.ts): refused, it is
   * 409 `tenant_running_limit` and nothing changed here. The lease itself re-reads the job after that call.
   */
  async lease(request: LeaseRequest): Promise<WorkerCallResult<LeaseReplyInput>> {
    const refused = await admitToRunningQuota(this.env, this.core.config, this.core.readJob());
    if (refused !== null) return refused;
    return this.afterWorkerCall(worker.lease(this.core, request));
  }

  async appendBlock(request: AppendBlockRequest): Promise<WorkerCallResult<AppendBlockReply>> {
    return this.afterWorkerCall(appendBlock(this.core, request));
  }

  /** The lease holder's block stream: one producer batch (docs/worker-api.md). */
  async appendBlockStream(producer: ProducerHeaders, records: BlockRecord[]): Promise<BlockStreamResult> {
    return this.afterWorkerCall(appendBlockStream(this.core, producer, records));
  }

  async heartbeat(request: HeartbeatRequest): Promise<WorkerCallResult<HeartbeatReply>> {
    return this.afterWorkerCall(worker.heartbeat(this.core, request));
  }

  async finish(request: FinishRequest): Promise<WorkerCallResult<JobStatusReply>> {
    return this.afterWorkerCall(worker.finish(this.core, request));
  }

  async fail(request: FailRequest): Promise<WorkerCallResult<JobStatusReply>> {
    return this.afterWorkerCall(worker.fail(this.core, request));
  }

  async release(request: ReleaseRequest): Promise<WorkerCallResult<JobStatusReply>> {
    return this.afterWorkerCall(worker.release(this.core, request));
  }

  override async alarm(): Promise<void> {
    await runAlarm(this.core);
  }

  private async afterWorkerCall<T>(result: T): Promise<T> {
    await this.core.effects.settle();
    return result;
  }
}
