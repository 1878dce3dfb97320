/**
 * In-memory stand-ins for the runtime's unit tests (polling, heartbeats, shutdown). They model only what the
 * consumer and the job runner observe; the real engine, SQS (fauxqs) and edge (Miniflare) are exercised by the
 * whole-stack tests in `tests/`.
 */
import type {
  AppendBlockReply,
  AppendBlockRequest,
  BlockRecord,
  FailRequest,
  FinishRequest,
  HeartbeatReply,
  JobMessage,
  LeaseReply,
  ModelManifest,
  ReleaseRequest,
} from "@bd3-serve/shared";
import { SamplingParamsSchema } from "@bd3-serve/shared";
import type { AddRequestResult, BlockOutput, Engine, EngineStats, GenerationRequest } from "../../src/engine/index.ts";
import type { BlockStreamOptions, BlockStreamWriter, EdgeClient } from "../../src/runtime/edge/index.ts";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";
import type { JobQueue, MessageRef, QueueMessage, SendOptions } from "../../src/runtime/queue/job-queue.ts";

export function jobMessage(overrides: Partial<JobMessage> = {}): JobMessage {
  return {
    version: 1,
    job_id: "job_1",
    capability: "cap-0123456789abcdef",
    model: "fake-model",
    prompt: "In the beginning",
    // Defaults come from the shared schema, so the fake never drifts from what the edge enqueues.
    params: { ...SamplingParamsSchema.parse({ max_tokens: 64 }), seed: 7 },
    enqueued_at: new Date(0).toISOString(),
    continuation: 0,
    request_id: null,
    ...overrides,
  };
}

let nextHandle = 0;
export function queueMessage(body: unknown, overrides: Partial<QueueMessage> = {}): QueueMessage {
  nextHandle++;
  return {
    messageId: `m-${nextHandle}`,
    receiptHandle: `rh-${nextHandle}`,
    queueUrl: FAKE_QUEUE_URL,
    body: typeof body === "string" ? body : JSON.stringify(body),
    receiveCount: 1,
    sentAtMs: Date.now(),
    receivedAtMs: Date.now(),
    ...overrides,
  };
}

/** The URL of a FakeQueue unless one is given (messages made by `queueMessage` come from it). */
export const FAKE_QUEUE_URL = "http://sqs.local/000000000000/jobs";

type QueueCall =
  | { op: "receive"; maxMessages: number }
  | { op: "delete"; receiptHandle: string }
  | { op: "changeVisibility"; receiptHandle: string; seconds: number }
  | { op: "send"; body: string; queueUrl: string; delaySeconds?: number };

/** A queue whose receives return scripted batches, then long-poll until aborted (or a batch is pushed). */
export class FakeQueue implements JobQueue {
  readonly calls: QueueCall[] = [];
  private readonly batches: QueueMessage[][] = [];
  private wakeReceiver: (() => void) | undefined;
  receiveError: Error | undefined;
  sendError: Error | undefined;
  /** The long poll wait of each receive, in order. */
  readonly receiveWaitsSeconds: number[] = [];

  constructor(readonly url = FAKE_QUEUE_URL) {}

  push(...messages: QueueMessage[]): void {
    this.batches.push(messages);
    this.wakeReceiver?.();
  }

  ops(op: QueueCall["op"]): QueueCall[] {
    return this.calls.filter((call) => call.op === op);
  }

  async receive(options: { maxMessages: number; waitSeconds: number; signal?: AbortSignal }): Promise<QueueMessage[]> {
    this.calls.push({ op: "receive", maxMessages: options.maxMessages });
    this.receiveWaitsSeconds.push(options.waitSeconds);
    if (this.receiveError !== undefined) throw this.receiveError;
    const take = () => {
      const batch = this.batches.shift() ?? [];
      const taken = batch.splice(0, options.maxMessages);
      if (batch.length > 0) this.batches.unshift(batch);
      return taken;
    };
    if (this.batches.length > 0) return take();
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish([]), options.waitSeconds * 1_000);
      const onAbort = () => finish([]);
      const finish = (messages: QueueMessage[]) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.wakeReceiver = undefined;
        resolve(messages);
      };
      this.wakeReceiver = () => finish(take());
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
  async delete(message: MessageRef): Promise<void> {
    this.calls.push({ op: "delete", receiptHandle: message.receiptHandle });
  }
  async changeVisibility(message: MessageRef, seconds: number): Promise<void> {
    this.calls.push({ op: "changeVisibility", receiptHandle: message.receiptHandle, seconds });
  }
  async send(body: string, queueUrl = this.url, options: SendOptions = {}): Promise<void> {
    if (this.sendError !== undefined) throw this.sendError;
    this.calls.push({ op: "send", body, queueUrl, ...options });
  }
  async attributes() {
    return { maxReceiveCount: 3, deadLetterTargetArn: undefined, approximateNumberOfMessages: 0 };
  }
}

type EdgeCall =
  | { call: "lease"; jobId: string }
  | { call: "append"; jobId: string; body: AppendBlockRequest }
  | { call: "heartbeat"; jobId: string }
  | { call: "finish"; jobId: string; body: FinishRequest }
  | { call: "fail"; jobId: string; body: FailRequest }
  | { call: "release"; jobId: string; body: ReleaseRequest };

/** An edge that records calls; replies can be overridden per call. */
export class FakeEdge implements EdgeClient {
  readonly calls: EdgeCall[] = [];
  epoch = 1;
  committedTokenIds: number[] = [];
  committedBlocks = 0;
  finalFinishReason: LeaseReply["final_finish_reason"] = null;
  isCanceled = false;
  leaseError: Error | undefined;
  appendError: ((body: AppendBlockRequest) => Error | undefined) | undefined;
  /** Appends wait for this (a slow edge). */
  appendHold: Promise<void> | undefined;
  /** Appends of one job wait for this (an edge slow for that job only). */
  readonly appendHoldOf = new Map<string, Promise<void>>();
  finishError: Error | undefined;
  failError: Error | undefined;

  of(call: EdgeCall["call"]): EdgeCall[] {
    return this.calls.filter((entry) => entry.call === call);
  }

  async lease(jobId: string): Promise<LeaseReply> {
    this.calls.push({ call: "lease", jobId });
    if (this.leaseError !== undefined) throw this.leaseError;
    return {
      epoch: this.epoch,
      status: "running",
      committed_blocks: this.committedBlocks,
      committed_token_ids: this.committedTokenIds,
      is_canceled: false,
      final_finish_reason: this.finalFinishReason,
    };
  }
  /**
   * The block stream as the runner sees it: appends are recorded at once (as `append` calls, in the shape
   * of the single-block request so tests read them alike), answered in order after `appendHold`, and the
   * first error (`appendError`) stops the stream as the real producer does.
   */
  openBlockStream(jobId: string, _capability: string, options: BlockStreamOptions): BlockStreamWriter {
    let tail = Promise.resolve();
    let appended = 0;
    let acknowledged = options.startBlock;
    let failure: EdgeCallError | undefined;
    const edge = this;
    return {
      append(record: BlockRecord) {
        if (failure !== undefined) return;
        appended++;
        const body: AppendBlockRequest = {
          epoch: options.epoch,
          block: { index: record.index, text: record.text, token_count: record.token_ids.length },
          token_ids: record.token_ids,
          ...(record.finish_reason !== undefined ? { finish_reason: record.finish_reason } : {}),
        };
        edge.calls.push({ call: "append", jobId, body });
        tail = tail.then(async () => {
          await edge.appendHold;
          await edge.appendHoldOf.get(jobId);
          if (failure !== undefined) return;
          const error = edge.appendError?.(body);
          if (error !== undefined) {
            failure = error instanceof EdgeCallError ? error : new EdgeCallError(String(error), { isRetryable: true });
            options.onError?.(failure);
            return;
          }
          acknowledged = Math.max(acknowledged, record.index + 1);
          options.onReply?.({ committedBlocks: acknowledged, isCanceled: edge.isCanceled });
        });
      },
      async flush() {
        await tail;
        if (failure !== undefined) throw failure;
      },
      get pendingBlocks() {
        return Math.max(0, options.startBlock + appended - acknowledged);
      },
      get error() {
        return failure;
      },
      abandon() {
        failure ??= new EdgeCallError("abandoned", { isRetryable: false });
      },
    };
  }
  async append(jobId: string, _capability: string, body: AppendBlockRequest): Promise<AppendBlockReply> {
    this.calls.push({ call: "append", jobId, body });
    await this.appendHold;
    const error = this.appendError?.(body);
    if (error !== undefined) throw error;
    return { result: "appended", committed_blocks: body.block.index + 1, is_canceled: this.isCanceled };
  }
  async heartbeat(jobId: string): Promise<HeartbeatReply> {
    this.calls.push({ call: "heartbeat", jobId });
    return { status: this.isCanceled ? "canceled" : "running", is_canceled: this.isCanceled };
  }
  async finish(jobId: string, _capability: string, body: FinishRequest) {
    this.calls.push({ call: "finish", jobId, body });
    if (this.finishError !== undefined) throw this.finishError;
    return { status: "succeeded" as const };
  }
  async fail(jobId: string, _capability: string, body: FailRequest) {
    this.calls.push({ call: "fail", jobId, body });
    if (this.failError !== undefined) throw this.failError;
    return { status: body.is_retryable ? ("queued" as const) : ("failed" as const) };
  }
  async release(jobId: string, _capability: string, body: ReleaseRequest) {
    this.calls.push({ call: "release", jobId, body });
    return { status: "running" as const };
  }
}

/**
 * An engine that emits one block per running request per step; each request ends after `blocksPerRequest`
 * blocks. `maxRunning` requests run at once; more wait (status `waiting`). Step time is zero.
 */
export class FakeEngine implements Engine {
  readonly manifest = {
    name: "fake-model",
    block_size: 4,
    eos_token_id: 0,
    tokenizer: { kind: "bytes" },
  } as unknown as ModelManifest;
  readonly executionProvider = "cpu" as const;
  readonly requests = new Map<string, { request: GenerationRequest; nextIndex: number; lastIndex: number }>();
  readonly added: GenerationRequest[] = [];
  readonly aborted: string[] = [];
  forwards = 0;
  generatedTokens = 0;
  stepError: Error | undefined;
  /** Ends every sequence with finish reason "error" at this block index (a failed forward). */
  errorAtIndex: number | undefined;
  /** Steps only run when released (tests that hold a job mid-generation). */
  isPaused = false;

  constructor(
    private readonly blocksPerRequest = 3,
    private readonly maxRunning = 8,
  ) {}

  addRequest(request: GenerationRequest): AddRequestResult {
    this.added.push(request);
    const start = request.startBlockIndex ?? 0;
    this.requests.set(request.requestId, { request, nextIndex: start, lastIndex: this.blocksPerRequest - 1 });
    return this.requests.size > this.maxRunning ? { status: "waiting", reason: "batch_full" } : { status: "admitted" };
  }
  abortRequest(requestId: string): boolean {
    this.aborted.push(requestId);
    return this.requests.delete(requestId);
  }
  hasWork(): boolean {
    return !this.isPaused && this.requests.size > 0;
  }
  async step(): Promise<BlockOutput[]> {
    if (this.stepError !== undefined) throw this.stepError;
    this.forwards++;
    const outputs: BlockOutput[] = [];
    for (const [id, state] of [...this.requests].slice(0, this.maxRunning)) {
      const index = state.nextIndex++;
      const isError = index === this.errorAtIndex;
      const isLast = isError || index >= state.lastIndex;
      outputs.push({
        requestId: id,
        index,
        text: isError ? "" : `b${index} `,
        tokenIds: isError ? [] : [index + 1, index + 2],
        isLast,
        finishReason: isError ? "error" : isLast ? "max_tokens" : null,
      });
      this.generatedTokens += 2;
      if (isLast) this.requests.delete(id);
    }
    return outputs;
  }
  usage(requestId: string) {
    return this.requests.has(requestId) ? { promptTokens: 5, completionTokens: 0, forwards: this.forwards } : undefined;
  }
  stats(): EngineStats {
    return {
      numRunning: Math.min(this.requests.size, this.maxRunning),
      numWaiting: Math.max(0, this.requests.size - this.maxRunning),
      kvBytesInUse: this.requests.size * 1_000,
      kvBudgetBytes: 1_000_000,
      forwards: this.forwards,
      generatedTokens: this.generatedTokens,
      lastForwardMs: 1,
    };
  }
  async close(): Promise<void> {}
}
