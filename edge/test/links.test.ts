import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/worker.ts";
import { TEST_KEYS } from "./test-keys.ts";

/** Links come from PUBLIC_BASE_URL, never from the caller's Host (issue 21, item 5). */
describe("links", () => {
  it("uses PUBLIC_BASE_URL for Location and urls whatever Host the caller sends", async () => {
    const configured = { ...env, PUBLIC_BASE_URL: "https://api.bd3.example/" };
    const response = await worker.fetch(
      new Request("https://evil.example/v1/generations", {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_KEYS.tenantA.key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ prompt: "In the beginning" }),
      }),
      configured,
      createExecutionContext(),
    );
    expect(response.status).toBe(202);
    const view = (await response.json()) as { id: string; urls: Record<string, string> };
    expect(response.headers.get("Location")).toBe(`https://api.bd3.example/v1/generations/${view.id}`);
    for (const url of Object.values(view.urls)) expect(url.startsWith("https://api.bd3.example/")).toBe(true);
    expect(JSON.stringify(view)).not.toContain("evil.example");
  });

  it("fails closed outside development without PUBLIC_BASE_URL, and refuses a URL that is not an https origin", async () => {
    const production = {
      ...env,
      ENVIRONMENT: "production",
      WORKER_CAPABILITY_SECRET: "a-production-capability-secret",
      WEBHOOK_SIGNING_SECRET: "a-production-webhook-signing-secret",
    };
    const health = async (bindings: typeof env) =>
      (await (
        await worker.fetch(new Request("https://edge.test/healthz"), bindings, createExecutionContext())
      ).json()) as {
        status: string;
        problems?: string[];
      };
    expect((await health(production)).problems).toContainEqual(expect.stringContaining("PUBLIC_BASE_URL must be set"));
    for (const bad of ["http://api.example.com", "https://api.example.com/?a=1", "not a url"]) {
      const problems = (await health({ ...production, PUBLIC_BASE_URL: bad })).problems ?? [];
      expect(problems.some((problem) => problem.startsWith("PUBLIC_BASE_URL"))).toBe(true);
    }
    const good = await health({ ...production, PUBLIC_BASE_URL: "https://api.example.com" });
    expect(good.problems ?? []).not.toContainEqual(expect.stringContaining("PUBLIC_BASE_URL"));
  });
});
