import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob, json } from "./helpers/api.ts";
import { append, appendStream, finish, lease, recordOf, takeOver, workerCall } from "./helpers/worker.ts";

async function leasedJob() {
  const job = await createJob();
  const { epoch } = await lease(job.id);
  return { jobId: job.id, epoch };
}

async function textOf(jobId: string) {
  return (await call("GET", `/v1/generations/${jobId}/text`)).text();
}

describe("POST /internal/v1/jobs/:id/block-stream (the lease holder's idempotent producer)", () => {
  it("appends a batch of blocks in one call and answers with the protocol's headers and the job's state", async () => {
    const { jobId, epoch } = await leasedJob();
    const response = await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0), recordOf(1), recordOf(2)]);
    expect(response.status).toBe(200);
    expect(response.headers.get("Producer-Epoch")).toBe(String(epoch));
    expect(response.headers.get("Producer-Seq")).toBe("0");
    expect(response.headers.get("Bd3-Committed-Blocks")).toBe("3");
    expect(response.headers.get("Bd3-Cancel-Requested")).toBeNull();
    expect(response.headers.get("Stream-Next-Offset")).toBe(`0000000000000000_${String(27).padStart(16, "0")}`);
    expect(await json(response)).toEqual({ committed_blocks: 3, is_canceled: false });
    expect(await textOf(jobId)).toBe("block 0. block 1. block 2. ");
  });

  it("answers a retried batch 204 (duplicate) without committing it twice", async () => {
    const { jobId, epoch } = await leasedJob();
    expect((await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0)])).status).toBe(200);
    expect((await appendStream(jobId, { epoch, seq: 1 }, [recordOf(1)])).status).toBe(200);
    const retry = await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0)]);
    expect(retry.status).toBe(204);
    expect(retry.headers.get("Producer-Seq")).toBe("1");
    expect(await textOf(jobId)).toBe("block 0. block 1. ");
  });

  it("refuses new blocks under a sequence number already used in this lease (a second writer), not a duplicate", async () => {
    const { jobId, epoch } = await leasedJob();
    expect((await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0)])).status).toBe(200);
    const reused = await appendStream(jobId, { epoch, seq: 0 }, [recordOf(1)]);
    expect(reused.status).toBe(409);
    expect(reused.headers.get("Producer-Expected-Seq")).toBeNull();
    expect(ErrorBodySchema.parse(await reused.json()).error.code).toBe("sequence_reused");
    expect(await textOf(jobId)).toBe("block 0. ");
  });

  it("refuses a sequence gap with 409 and the sequence it expects", async () => {
    const { jobId, epoch } = await leasedJob();
    const response = await appendStream(jobId, { epoch, seq: 2 }, [recordOf(0)]);
    expect(response.status).toBe(409);
    expect(response.headers.get("Producer-Expected-Seq")).toBe("0");
    expect(response.headers.get("Producer-Received-Seq")).toBe("2");
    expect(await textOf(jobId)).toBe("");
  });

  it("fences the producer of an older lease with 403 naming the current epoch, and refuses a future epoch", async () => {
    const { jobId, epoch } = await leasedJob();
    expect((await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0)])).status).toBe(200);
    const { epoch: newer } = await takeOver(jobId, "worker-2");
    const stale = await appendStream(jobId, { epoch, seq: 1 }, [recordOf(1)]);
    expect(stale.status).toBe(403);
    expect(stale.headers.get("Producer-Epoch")).toBe(String(newer));
    expect(ErrorBodySchema.parse(await stale.json()).error.code).toBe("stale_epoch");
    expect((await appendStream(jobId, { epoch: newer + 1, seq: 0 }, [recordOf(1)])).status).toBe(403);
    // The new lease's producer starts its own session at sequence 0.
    expect((await appendStream(jobId, { epoch: newer, seq: 0, producerId: "worker-2" }, [recordOf(1)])).status).toBe(
      200,
    );
    expect(await textOf(jobId)).toBe("block 0. block 1. ");
  });

  it("applies a batch whole or not at all: a gap inside it commits nothing and the sequence stays free", async () => {
    const { jobId, epoch } = await leasedJob();
    const refused = await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0), recordOf(2)]);
    expect(refused.status).toBe(409);
    expect(refused.headers.get("Producer-Expected-Seq")).toBeNull();
    expect(ErrorBodySchema.parse(await refused.json()).error.code).toBe("block_gap");
    expect(await textOf(jobId)).toBe("");
    expect((await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0), recordOf(1)])).status).toBe(200);
  });

  it("refuses blocks after the one that ended the generation", async () => {
    const { jobId, epoch } = await leasedJob();
    const response = await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0, "The end.", "eos"), recordOf(1)]);
    expect(ErrorBodySchema.parse(await response.json()).error.code).toBe("generation_ended");
    expect((await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0, "The end.", "eos")])).status).toBe(200);
    const lease2 = await json<{ final_finish_reason: string }>(
      await workerCall(jobId, "lease", { worker_id: "worker-1" }),
    );
    expect(lease2.final_finish_reason).toBe("eos");
  });

  it("reports a cancel request in a header and closes the stream (409 Stream-Closed) once the job ended", async () => {
    const { jobId, epoch } = await leasedJob();
    expect((await call("POST", `/v1/generations/${jobId}/cancel`)).status).toBe(202);
    const canceled = await appendStream(jobId, { epoch, seq: 0 }, [recordOf(0)]);
    expect(canceled.headers.get("Bd3-Cancel-Requested")).toBe("true");
    expect((await json(canceled)).is_canceled).toBe(true);
    await finish(jobId, epoch, "canceled");
    const closed = await appendStream(jobId, { epoch, seq: 1 }, [recordOf(1)]);
    expect(closed.status).toBe(409);
    expect(closed.headers.get("Stream-Closed")).toBe("true");
    expect(ErrorBodySchema.parse(await closed.json()).error.code).toBe("job_terminal");
  });

  it("needs the producer headers, a valid body and the job's capability", async () => {
    const { jobId, epoch } = await leasedJob();
    const noProducer = await workerCall(jobId, "block-stream", [recordOf(0)]);
    expect(noProducer.status).toBe(400);
    expect(ErrorBodySchema.parse(await noProducer.json()).error.param).toBe("Producer-Id");
    const badBody = await appendStream(jobId, { epoch, seq: 0 }, [{ index: 0, text: "x" }]);
    expect(badBody.status).toBe(400);
    expect(ErrorBodySchema.parse(await badBody.json()).error.param).toBe("0.token_ids");
    const empty = await appendStream(jobId, { epoch, seq: 0 }, []);
    expect(empty.status).toBe(400);
    const other = await createJob();
    const foreign = await call("POST", `/internal/v1/jobs/${other.id}/block-stream`, {
      key: null,
      body: [recordOf(0)],
      headers: {
        Authorization: "Bearer not-this-jobs-capability",
        "Producer-Id": "w",
        "Producer-Epoch": "1",
        "Producer-Seq": "0",
      },
    });
    expect(foreign.status).toBe(401);
  });

  it("shares one block log with the single-block append of older workers", async () => {
    const { jobId, epoch } = await leasedJob();
    expect((await append(jobId, epoch, 0)).status).toBe(200);
    expect((await appendStream(jobId, { epoch, seq: 0 }, [recordOf(1)])).status).toBe(200);
    expect((await append(jobId, epoch, 0)).status).toBe(200);
    const lease2 = await json<{ committed_blocks: number; committed_token_ids: number[] }>(
      await workerCall(jobId, "lease", { worker_id: "worker-1" }),
    );
    expect(lease2.committed_blocks).toBe(2);
    expect(lease2.committed_token_ids).toEqual([...recordOf(0).token_ids, ...recordOf(1).token_ids]);
  });
});
