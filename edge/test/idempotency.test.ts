import { ErrorBodySchema, JobListPageSchema, type JobView } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { call, json } from "./helpers/api.ts";
import { settled, stubOfJob } from "./helpers/job-object.ts";

function create(idempotencyKey: string, body: unknown, key: "tenantA" | "tenantB" = "tenantA") {
  return call("POST", "/v1/generations", { key, body, headers: { "Idempotency-Key": idempotencyKey } });
}

describe("Idempotency-Key", () => {
  it("returns the same job for the same key and body, marked as replayed", async () => {
    const key = crypto.randomUUID();
    const first = await create(key, { prompt: "same", max_tokens: 32 });
    expect(first.status).toBe(202);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    const firstView = await json<JobView>(first);
    const again = await create(key, { max_tokens: 32, prompt: "same" });
    expect(again.status).toBe(202);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    const againView = await json<JobView>(again);
    expect(againView.id).toBe(firstView.id);
    expect(againView.params.seed).toBe(firstView.params.seed);
  });

  it("treats an explicit default like an omitted field", async () => {
    const key = crypto.randomUUID();
    const first = await json<JobView>(await create(key, { prompt: "defaults" }));
    const again = await json<JobView>(await create(key, { prompt: "defaults", temperature: 1, stop: [] }));
    expect(again.id).toBe(first.id);
  });

  it("refuses the same key with another body (422 idempotency_error)", async () => {
    const key = crypto.randomUUID();
    await create(key, { prompt: "one" });
    const other = await create(key, { prompt: "two" });
    expect(other.status).toBe(422);
    expect(ErrorBodySchema.parse(await other.json()).error).toMatchObject({
      type: "idempotency_error",
      param: "Idempotency-Key",
    });
  });

  it("creates one job for concurrent creates with one key", async () => {
    const key = crypto.randomUUID();
    const responses = await Promise.all(Array.from({ length: 6 }, () => create(key, { prompt: "race" }, "tenantB")));
    const views = await Promise.all(responses.map((response) => json<JobView>(response)));
    expect(new Set(views.map((view) => view.id)).size).toBe(1);
    expect(responses.filter((response) => response.headers.get("Idempotent-Replayed") === "true")).toHaveLength(5);
    await settled(stubOfJob(views[0]!.id));
    const listed = JobListPageSchema.parse(
      await json(await call("GET", "/v1/generations?limit=100", { key: "tenantB" })),
    );
    expect(listed.data.filter((job) => job.id === views[0]!.id)).toHaveLength(1);
  });

  it("scopes keys to the tenant", async () => {
    const key = crypto.randomUUID();
    const a = await json<JobView>(await create(key, { prompt: "mine" }, "tenantA"));
    const b = await json<JobView>(await create(key, { prompt: "mine" }, "tenantB"));
    expect(a.id).not.toBe(b.id);
  });

  it.each(["", "has space", "tab\there", "x".repeat(256)])("refuses the key %j with a 400", async (key) => {
    const response = await create(key, { prompt: "a" });
    expect(response.status).toBe(400);
    expect(ErrorBodySchema.parse(await response.json()).error.param).toBe("Idempotency-Key");
  });
});
