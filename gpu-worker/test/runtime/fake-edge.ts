/**
 * A fake edge for the runtime's unit tests: records every worker-API call (lease, block stream, heartbeat,
 * finish, fail, release) and answers from settable state, or with an error set per call. It models only what
 * the job runner and the DLQ watcher observe; the real edge (Miniflare) is exercised by the whole-stack tests.
 */
import type {
  AppendBlockReply,
  AppendBlockRequest,
  BlockRecord,
  FailRequest,
  FinishRequest,
  HeartbeatReply,
  LeaseReply,
  ReleaseRequest,
} from "@bd3-serve/shared";
import type { BlockStreamOptions, BlockStreamWriter, EdgeClient } from "../../src/runtime/edge/index.ts";
import { EdgeCallError } from "../../src/runtime/edge/index.ts";

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
