import {
  BLOCK_STREAM_HEADERS,
  BlockStreamAppendSchema,
  type BlockStreamReply,
  type ErrorBodySchema,
} from "@bd3-serve/shared";
import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "../../app-env.ts";
import { ApiError } from "../../errors/api-error.ts";
import { parseJsonBody } from "../../http/parse-body.ts";
import { jobStub, objectIdOfJob } from "../../job/job-id.ts";
import type { BlockStreamResult } from "../../job/job-rpc.ts";
import { H } from "../../stream/protocol-headers.ts";
import { HeaderError, isTrueHeader, parseProducer } from "../../stream/request-headers.ts";

type ErrorBody = z.infer<typeof ErrorBodySchema>;

/**
 * `POST /internal/v1/jobs/:id/block-stream`: the lease holder appends blocks as a Durable Streams JSON-mode
 * append with idempotent-producer headers (Producer-Id, Producer-Epoch = the lease epoch, Producer-Seq),
 * so `IdempotentProducer` from @durable-streams/client can write it with batching and pipelining. Answers
 * are the protocol's: 200 appended (with `Stream-Next-Offset`, the document's tail), 204 duplicate, 403 a
 * stale or foreign epoch (`Producer-Epoch` = the lease's), 409 a sequence gap (`Producer-Expected-Seq`) or a
 * closed stream (`Stream-Closed: true`: the job is terminal). Beside them, `Bd3-Committed-Blocks` and
 * `Bd3-Cancel-Requested` tell the worker where the job stands. Refusals of the blocks themselves (a gap in
 * indexes, a block after the end) are 409s with the worker API's error codes and no producer headers.
 */
export async function appendToBlockStream(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const objectId = objectIdOfJob(c.env, id);
  if (objectId === null) throw new ApiError(404, "not_found_error", "no such job", { param: "id" });
  let producer: ReturnType<typeof parseProducer>;
  try {
    producer = parseProducer(c.req.raw.headers);
  } catch (error) {
    if (error instanceof HeaderError)
      throw new ApiError(400, "invalid_request_error", error.message, { param: error.header });
    throw error;
  }
  if (producer === null) {
    throw new ApiError(400, "invalid_request_error", "the block stream is written by an idempotent producer", {
      param: H.producerId,
    });
  }
  if (isTrueHeader(c.req.raw.headers, H.closed)) {
    throw new ApiError(400, "invalid_request_error", "the job's end closes its stream: call finish", {
      param: H.closed,
    });
  }
  const records = await parseJsonBody(c, BlockStreamAppendSchema);
  const result = await jobStub(c.env, objectId).appendBlockStream(producer, records);
  return answer(result);
}

function answer(result: BlockStreamResult): Response {
  switch (result.kind) {
    case "accepted": {
      const reply: BlockStreamReply = { committed_blocks: result.committedBlocks, is_canceled: result.isCanceled };
      return Response.json(reply, {
        status: 200,
        headers: {
          [H.nextOffset]: result.tailOffset,
          [H.producerEpoch]: String(result.epoch),
          [H.producerSeq]: String(result.seq),
          ...jobHeaders(result.committedBlocks, result.isCanceled),
        },
      });
    }
    case "duplicate":
      return new Response(null, {
        status: 204,
        headers: {
          [H.producerEpoch]: String(result.epoch),
          [H.producerSeq]: String(result.lastSeq),
          ...jobHeaders(result.committedBlocks, result.isCanceled),
        },
      });
    case "stale_epoch":
      return errorResponse(403, "permission_error", "this is not the current lease's epoch", "stale_epoch", {
        [H.producerEpoch]: String(result.currentEpoch),
      });
    case "invalid_epoch_seq":
      return errorResponse(
        400,
        "invalid_request_error",
        "a lease's block stream starts at Producer-Seq 0",
        undefined,
        {},
      );
    case "sequence_gap":
      return errorResponse(409, "conflict_error", `expected Producer-Seq ${result.expectedSeq}`, "sequence_gap", {
        [H.producerExpectedSeq]: String(result.expectedSeq),
        [H.producerReceivedSeq]: String(result.receivedSeq),
      });
    case "closed":
      return errorResponse(409, "conflict_error", `the job is already ${result.status}`, "job_terminal", {
        [H.closed]: "true",
        [H.nextOffset]: result.tailOffset,
      });
    case "refused": {
      const { status, code, message } = result.result;
      const type = status === 404 ? "not_found_error" : status === 409 ? "conflict_error" : "invalid_request_error";
      return errorResponse(status, type, message, code, {});
    }
  }
}

function jobHeaders(committedBlocks: number, isCanceled: boolean): Record<string, string> {
  return {
    [BLOCK_STREAM_HEADERS.committedBlocks]: String(committedBlocks),
    ...(isCanceled ? { [BLOCK_STREAM_HEADERS.isCanceled]: "true" } : {}),
  };
}

function errorResponse(
  status: number,
  type: ErrorBody["error"]["type"],
  message: string,
  code: string | undefined,
  headers: Record<string, string>,
): Response {
  const body: ErrorBody = { error: { type, message, ...(code ? { code } : {}) } };
  return Response.json(body, { status, headers });
}
