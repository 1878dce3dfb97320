import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/worker.ts";
import { call, expectError, json } from "./helpers/api.ts";
import { TEST_KEYS } from "./test-keys.ts";

/** The unauthenticated meta routes, fail-closed configuration, the rate limit's fallbacks, unknown routes. */

describe("meta routes", () => {
  it("serves /healthz without a key", async () => {
    const response = await call("GET", "/healthz", { key: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("serves an OpenAPI 3.1 document generated from the shared schemas", async () => {
    const response = await call("GET", "/openapi.json", { key: null });
    expect(response.status).toBe(200);
    const document = await json<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    }>(response);
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        "/v1/generations",
        "/v1/generations/{id}",
        "/v1/generations/{id}/stream",
        "/internal/v1/jobs/{id}/blocks",
      ]),
    );
    const create = document.components.schemas.CreateGenerationRequest!;
    expect(create.required).toEqual(["prompt"]);
    expect(Object.keys(create.properties ?? {})).toEqual(expect.arrayContaining(["prompt", "max_tokens", "webhook"]));
    expect(document.components.schemas.Generation?.required).toContain("is_stalled");
    // The lease reply as sent: the edge omits final_finish_reason when null, so it must not be required.
    const leaseReply = document.components.schemas.LeaseReply!;
    expect(leaseReply.required).toContain("committed_token_ids");
    expect(leaseReply.required).not.toContain("final_finish_reason");
    expect(Object.keys(leaseReply.properties ?? {})).toContain("final_finish_reason");
    expect(JSON.stringify(document)).toContain("#/components/schemas/WebhookEvent");
    for (const match of JSON.stringify(document).matchAll(/"#\/components\/schemas\/(\w+)"/g)) {
      expect(document.components.schemas).toHaveProperty(match[1]!);
    }
  });

  it("fails closed when misconfigured: 500 on the API, 503 naming the problem on /healthz", async () => {
    const ctx = createExecutionContext();
    const broken = { ...env, WORKER_CAPABILITY_SECRET: "" };
    const health = await worker.fetch(new Request("https://edge.test/healthz"), broken, ctx);
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain("WORKER_CAPABILITY_SECRET");
    const create = new Request("https://edge.test/v1/generations", { method: "POST", body: "{}" });
    await expectError(await worker.fetch(create, broken, ctx), 500, "api_error");
    const production = { ...env, ENVIRONMENT: "production" };
    const refused = await worker.fetch(new Request("https://edge.test/healthz"), production, ctx);
    expect(JSON.stringify(await refused.json())).toContain("dev-only");
  });

  it("falls back to an in-isolate rate limit without the binding", async () => {
    const ctx = createExecutionContext();
    const unbound = { ...env, RATE_LIMITER: undefined, RATE_LIMIT_FALLBACK_PER_MINUTE: "3" };
    const get = () =>
      worker.fetch(
        new Request("https://edge.test/v1/generations/gen_x", {
          headers: { Authorization: `Bearer ${TEST_KEYS.tenantB.key}` },
        }),
        unbound,
        ctx,
      );
    const statuses = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await get()).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((status) => status === 404).length).toBeLessThanOrEqual(6);
  });

  it("lets requests through when the rate limit binding itself fails", async () => {
    const failing = {
      ...env,
      RATE_LIMITER: {
        limit: async () => {
          throw new Error("limiter down");
        },
      },
    };
    const request = new Request("https://edge.test/v1/generations/gen_x", {
      headers: { Authorization: `Bearer ${TEST_KEYS.tenantB.key}` },
    });
    await expectError(await worker.fetch(request, failing, createExecutionContext()), 404, "not_found_error");
  });

  it("answers unknown routes with the error body", async () => {
    await expectError(await call("GET", "/v2/nothing", { key: null }), 404, "not_found_error");
    await expectError(await call("DELETE", "/v1/generations"), 404, "not_found_error");
  });
});
