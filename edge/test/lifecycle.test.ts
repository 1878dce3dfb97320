import { BlockPageSchema, JobViewSchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, createJob, json } from "./helpers/api.ts";
import { append, finish, lease } from "./helpers/worker.ts";

describe("a job from create to succeeded", () => {
  it("creates, leases, appends, finishes and shows the text", async () => {
    const created = await createJob({ prompt: "In the beginning", max_tokens: 64, seed: 7 });
    expect(JobViewSchema.parse(created).status).toBe("queued");
    const { epoch } = await lease(created.id);
    expect(epoch).toBe(1);
    for (const index of [0, 1, 2]) expect((await append(created.id, epoch, index)).status).toBe(200);
    expect((await finish(created.id, epoch)).status).toBe(200);
    const view = JobViewSchema.parse(await json(await call("GET", `/v1/generations/${created.id}`)));
    expect(view).toMatchObject({
      status: "succeeded",
      finish_reason: "eos",
      text: "block 0. block 1. block 2. ",
      progress: { blocks: 3, tokens: 27 },
      params: { seed: 7, max_tokens: 64 },
    });
    const page = BlockPageSchema.parse(await json(await call("GET", `/v1/generations/${created.id}/blocks?after=0`)));
    expect(page.data.map((block) => block.index)).toEqual([1, 2]);
  });
});
