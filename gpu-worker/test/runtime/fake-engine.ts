/**
 * A fake engine for the runtime's unit tests: one block per running request per step, no model, zero step
 * time. The real engine is exercised by test/engine/ and the whole-stack tests.
 */
import type { ModelManifest } from "@bd3-serve/shared";
import type { AddRequestResult, BlockOutput, Engine, EngineStats, GenerationRequest } from "../../src/engine/index.ts";

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
