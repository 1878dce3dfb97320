/**
 * Where the engine's blocks go: each job's block stream to the edge (edge/block-stream.ts), and what follows
 * the last one. A block is queued on the stream at once and the engine step goes on; the stream batches and
 * pipelines appends, so no job waits for a round trip and no job's acknowledgements hold up another's.
 *
 * After the block that ends a job (or, while draining, the block in flight) the job flushes its stream and
 * then finishes (or is released). A cancel in any reply stops the job; an error that stops the stream ends
 * the attempt like any failed edge call (lease lost, job terminal, or retried later).
 *
 * Backpressure is per job: a job whose stream has more than MAX_UNACKED_BLOCKS_PER_JOB blocks not yet
 * acknowledged (an edge that is slow or down for it) is paused: it leaves the engine, the rest of the batch
 * keeps generating, and once its stream has caught up it re-enters from the blocks it sent (the engine
 * rebuilds its cache from them, as on any resume; randomness is per block, so the text is unchanged).
 */
import type { BlockFinishReason, BlockRecord } from "@bd3-serve/shared";
import type { BlockOutput } from "../../engine/index.ts";
import type { JobControl, JobRunnerOptions } from "./job-context.ts";
import type { JobEndings } from "./job-endings.ts";
import type { RunningJob } from "./running-job.ts";

/** Blocks a job may have sent and not had acknowledged before it is paused (16 MiB at the largest blocks). */
export const MAX_UNACKED_BLOCKS_PER_JOB = 256;

export interface EngineAdmission {
  /** Puts the job (back) into the engine from its committed tokens; false when the engine refused it. */
  admit(job: RunningJob): Promise<boolean>;
}

export class BlockSink {
  constructor(
    private readonly options: JobRunnerOptions,
    private readonly control: JobControl,
    private readonly endings: JobEndings,
    private readonly admission: EngineAdmission,
  ) {}

  /** Opens the job's block stream for its lease (call once the lease is known). */
  open(job: RunningJob): void {
    if (job.epoch === undefined) return;
    let acknowledged = job.nextBlockIndex;
    job.writer = this.options.edge.openBlockStream(job.id, job.job.capability, {
      epoch: job.epoch,
      startBlock: job.nextBlockIndex,
      producerId: this.options.workerId,
      onReply: (reply) => {
        if (reply.committedBlocks > acknowledged) {
          this.options.metrics.blocksAppended.inc({ result: "appended" }, reply.committedBlocks - acknowledged);
          acknowledged = reply.committedBlocks;
        }
        if (reply.isCanceled && job.isWriting) void this.endings.cancel(job, "append");
      },
      onError: (error) => void this.endings.handleCallError(job, error, "append"),
    });
  }

  /** One output of an engine step for a held job. */
  accept(job: RunningJob, output: BlockOutput): void {
    if (output.index !== job.nextBlockIndex) {
      job.log.error({ index: output.index, expected: job.nextBlockIndex }, "engine emitted an unexpected block index");
      void this.endings.failAttempt(
        job,
        new Error(`engine emitted block ${output.index}, expected ${job.nextBlockIndex}`),
      );
      return;
    }
    job.nextBlockIndex++;
    job.blocksThisAttempt++;
    job.hasStarted = true;
    job.lastUsage = this.options.engine.usage(job.id) ?? job.lastUsage;
    if (output.isLast && output.finishReason === "error") {
      // The engine lost this sequence (a failed forward ends its whole batch): retry the job elsewhere/later.
      job.isInEngine = false;
      job.phase = "finishing";
      void this.afterFlush(job, () =>
        this.endings.failAttempt(job, new Error(`the engine ended block ${output.index} with an error`)),
      );
      return;
    }
    const record: BlockRecord = {
      index: output.index,
      text: output.text,
      token_ids: [...output.tokenIds],
      // The block that ended the generation says so, so a worker that leases after a crash before `finish`
      // finishes the job instead of generating past its end.
      ...(output.isLast && isBlockFinishReason(output.finishReason) ? { finish_reason: output.finishReason } : {}),
    };
    job.writer?.append(record);
    for (const id of output.tokenIds) job.committedTokenIds.push(id);
    if (output.isLast) {
      job.isInEngine = false;
      job.phase = "finishing";
      void this.afterFlush(job, () => this.endings.finish(job, output.finishReason));
    } else if (job.phase === "draining") {
      // SIGTERM: this was the block in flight; send it and hand the job to another worker.
      this.control.abortInEngine(job);
      void this.afterFlush(job, () => this.control.close(job, "released", "release"));
    } else if ((job.writer?.pendingBlocks ?? 0) > MAX_UNACKED_BLOCKS_PER_JOB) {
      void this.pause(job);
    }
  }

  /** Waits until everything the job sent is acknowledged, then runs `then` (unless the job stopped meanwhile). */
  async afterFlush(job: RunningJob, then: () => Promise<void>): Promise<void> {
    try {
      await job.writer?.flush();
    } catch {
      return; // the stream's onError already ended the attempt
    }
    if (job.isWriting) await then();
  }

  /** Takes a job whose edge fell behind out of the engine until its stream has caught up, then re-admits it. */
  private async pause(job: RunningJob): Promise<void> {
    const pendingBlocks = job.writer?.pendingBlocks ?? 0;
    job.log.warn({ pending_blocks: pendingBlocks }, "the edge is behind on this job; pausing it");
    job.priorForwards += this.options.engine.usage(job.id)?.forwards ?? 0;
    job.isPaused = true;
    this.control.abortInEngine(job);
    try {
      await job.writer?.flush();
    } catch {
      return;
    }
    job.isPaused = false;
    if (job.phase !== "generating" || !job.isWriting) return;
    job.log.info({ blocks: job.nextBlockIndex }, "the edge caught up; resuming the job");
    await this.admission.admit(job);
  }
}

function isBlockFinishReason(reason: BlockOutput["finishReason"]): reason is BlockFinishReason {
  return reason !== null && reason !== "error" && reason !== "canceled";
}
