import { env } from "cloudflare:workers";
import { ErrorBodySchema } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { mintStreamToken } from "../src/auth/stream-token.ts";
import { call, createJob, json } from "./helpers/api.ts";
import { TEST_KEYS } from "./test-keys.ts";

/** Browser access (issue 16, item 4): request ids, CORS per configuration, job-scoped stream tokens. */
describe("x-request-id", () => {
  it("is on every answer: the caller's plain id is kept, anything else is replaced by a minted one", async () => {
    const minted = (await call("GET", "/healthz", { key: null })).headers.get("x-request-id");
    expect(minted).toMatch(/^req_[0-9a-f]{24}$/);
    const kept = await call("GET", "/v1/generations?limit=1", { headers: { "x-request-id": "trace-42.a:b" } });
    expect(kept.headers.get("x-request-id")).toBe("trace-42.a:b");
    const refused = await call("GET", "/v1/generations/nope", {
      key: null,
      headers: { "x-request-id": "a b<script>" },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{24}$/);
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    call("OPTIONS", "/v1/generations", {
      key: null,
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
      },
    });

  it("answers a preflight from a listed origin without a key, and grants nothing to any other origin", async () => {
    const allowed = await preflight("https://app.example.com");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(allowed.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");
    expect(allowed.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    const other = await preflight("https://evil.example");
    expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const real = await call("GET", "/v1/generations?limit=1", { headers: { Origin: "https://app.example.com" } });
    expect(real.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(real.headers.get("Access-Control-Expose-Headers")).toContain("x-request-id");
    const keyless = await call("GET", "/v1/generations?limit=1", {
      key: null,
      headers: { Origin: "https://app.example.com" },
    });
    expect(keyless.status).toBe(401);
  });
});

describe("stream tokens", () => {
  const secret = env.WORKER_CAPABILITY_SECRET!;

  async function expectRefused(response: Response) {
    expect(response.status).toBe(401);
    const body = ErrorBodySchema.parse(await response.json());
    expect(body.error.param).toBe("stream_token");
    // Nothing about the job: not its id, not whether it exists.
    expect(JSON.stringify(body)).not.toContain("gen_");
  }

  it("opens the job's stream routes for a few minutes, with no key in the URL", async () => {
    const job = await createJob();
    const minted = await call("POST", `/v1/generations/${job.id}/stream-token`);
    expect(minted.status).toBe(201);
    const token = await json<{ token: string; expires_at: string; urls: { stream: string; text: string } }>(minted);
    const lifetimeMs = Date.parse(token.expires_at) - Date.now();
    expect(lifetimeMs).toBeGreaterThan(60_000);
    expect(lifetimeMs).toBeLessThanOrEqual(300_000);
    expect(token.urls.stream).toContain(`/v1/generations/${job.id}/stream?stream_token=`);
    expect(token.urls.stream).not.toContain(TEST_KEYS.tenantA.key);
    const query = `stream_token=${encodeURIComponent(token.token)}`;
    const text = await call("GET", `/v1/generations/${job.id}/text?offset=-1&${query}`, { key: null });
    expect(text.status).toBe(200);
    await text.body?.cancel();
    const sse = await call("GET", `/v1/generations/${job.id}/stream?${query}`, { key: null });
    expect(sse.status).toBe(200);
    expect(sse.headers.get("Content-Type")).toContain("text/event-stream");
    await sse.body?.cancel();
  });

  it("is refused (401, nothing revealed) on another job, on other routes, expired, tampered or foreign", async () => {
    const job = await createJob();
    const other = await createJob();
    const { token } = await json<{ token: string }>(await call("POST", `/v1/generations/${job.id}/stream-token`));
    const q = (value: string) => `stream_token=${encodeURIComponent(value)}`;
    await expectRefused(await call("GET", `/v1/generations/${other.id}/stream?${q(token)}`, { key: null }));
    await expectRefused(await call("GET", `/v1/generations/${job.id}?${q(token)}`, { key: null }));
    await expectRefused(await call("POST", `/v1/generations/${job.id}/cancel?${q(token)}`, { key: null, body: {} }));
    const expired = await mintStreamToken(secret, "tenant_a", job.id, Date.now() - 600_000);
    await expectRefused(await call("GET", `/v1/generations/${job.id}/stream?${q(expired.token)}`, { key: null }));
    const tampered = token.replace("tenant_a", "tenant_b");
    await expectRefused(await call("GET", `/v1/generations/${job.id}/stream?${q(tampered)}`, { key: null }));
    const forged = await mintStreamToken("not-the-edge-secret-0123456789", "tenant_a", job.id, Date.now());
    await expectRefused(await call("GET", `/v1/generations/${job.id}/stream?${q(forged.token)}`, { key: null }));
    // Another tenant cannot mint one for this job (it does not exist for them).
    expect((await call("POST", `/v1/generations/${job.id}/stream-token`, { key: "tenantB" })).status).toBe(404);
    // And the job was not touched by any of it.
    const view = await json<{ status: string }>(await call("GET", `/v1/generations/${job.id}`));
    expect(view.status).toBe("queued");
  });
});

describe("GET /v1/generations/:id with Prefer: wait", () => {
  it("waits up to the preference for a job that is not ending and says it applied it", async () => {
    const job = await createJob();
    const startedMs = Date.now();
    const reply = await call("GET", `/v1/generations/${job.id}`, { headers: { Prefer: "wait=1" } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("Preference-Applied")).toBe("wait=1");
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(900);
    expect((await json<{ status: string }>(reply)).status).toBe("queued");
  });
});
