import type { ApiKey } from "@bd3-serve/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import { Bd3Client } from "../src/client.ts";
import { ApiError } from "../src/errors.ts";
import { apiError, fakeFetch, json } from "./fake-fetch.ts";

const key = (overrides: Partial<ApiKey> = {}): ApiKey => ({
  object: "api_key",
  id: "key_0123456789abcdef01234567",
  prefix: "bd3_live_AbCd",
  name: "ci",
  tenant_id: "tenant_a",
  scopes: ["generations:read"],
  created_at: "2026-11-28T10:00:00.000Z",
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
  ...overrides,
});
const PLAIN = "bd3_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefg";

const client = (fetch: ReturnType<typeof fakeFetch>["fetch"]) =>
  new Bd3Client({
    baseUrl: "https://api.example.com",
    apiKey: "admin",
    fetch,
    backoff: { baseDelayMs: 1, maxDelayMs: 1 },
  });

describe("admin.keys", () => {
  it("creates a key, and never retries the create (a retry could mint a second key)", async () => {
    const { fetch, requests } = fakeFetch([() => json({ ...key(), key: PLAIN }, 201)]);
    const created = await client(fetch).admin.keys.create({ tenant_id: "tenant_a", name: "ci", scopes: ["admin"] });
    expect(created.key).toBe(PLAIN);
    expect(created).not.toHaveProperty("priority_max");
    expect(requests[0]?.method).toBe("POST");
    expect(requests[0]?.url.pathname).toBe("/v1/admin/keys");
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({ tenant_id: "tenant_a", name: "ci", scopes: ["admin"] });

    const failing = fakeFetch([() => apiError(503, "api_error", "down")], { repeatLast: true });
    const error = await client(failing.fetch)
      .admin.keys.create({ tenant_id: "t", name: "n", scopes: ["admin"] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(failing.requests).toHaveLength(1);
  });

  it("sends priority_max on create and reads it back on the key's views", async () => {
    const { fetch, requests } = fakeFetch([
      () => json({ ...key({ priority_max: 0 }), key: PLAIN }, 201),
      () => json({ object: "list", data: [key({ priority_max: 0 })], has_more: false, next_cursor: null }),
    ]);
    const keys = client(fetch).admin.keys;
    const body = { tenant_id: "tenant_a", name: "ci", scopes: ["generations:write" as const], priority_max: 0 };
    expect((await keys.create(body)).priority_max).toBe(0);
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual(body);
    for await (const listed of keys.list()) expect(listed.priority_max).toBe(0);
  });

  it("lists every page of one tenant, revokes (retried) and rotates with an overlap", async () => {
    const { fetch, requests } = fakeFetch([
      () => json({ object: "list", data: [key({ id: "key_1" })], has_more: true, next_cursor: "c1" }),
      () => json({ object: "list", data: [key({ id: "key_2" })], has_more: false, next_cursor: null }),
      () => apiError(503, "api_error", "blip"),
      () => json(key({ revoked_at: "2026-11-28T11:00:00.000Z" })),
      () =>
        json(
          {
            object: "api_key_rotation",
            new_key: { ...key({ id: "key_3" }), key: PLAIN },
            old_key: key({ expires_at: "2026-11-28T12:00:00.000Z" }),
          },
          201,
        ),
    ]);
    const keys = client(fetch).admin.keys;
    const ids: string[] = [];
    for await (const listed of keys.list({ tenantId: "tenant_a", limit: 1 })) ids.push(listed.id);
    expect(ids).toEqual(["key_1", "key_2"]);
    expect(`${requests[1]?.url.pathname}${requests[1]?.url.search}`).toBe(
      "/v1/admin/keys?tenant_id=tenant_a&limit=1&cursor=c1",
    );
    expect((await keys.revoke("key_1")).revoked_at).not.toBeNull();
    expect(requests[3]?.url.pathname).toBe("/v1/admin/keys/key_1/revoke");
    const rotation = await keys.rotate("key_1", { overlapSeconds: 60 });
    expect(rotation.new_key.key).toBe(PLAIN);
    expect(JSON.parse(requests[4]?.body ?? "")).toEqual({ overlap_seconds: 60 });
  });
});

describe("bd3 keys", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("create prints the key alone on the first line; --scope repeats; --expires-at becomes UTC ISO", async () => {
    const { fetch, requests } = fakeFetch([() => json({ ...key(), key: PLAIN }, 201)]);
    vi.stubGlobal("fetch", fetch);
    vi.stubEnv("BD3_API_URL", "https://api.example.com");
    vi.stubEnv("BD3_API_KEY", "admin");
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const args = ["keys", "create", "--tenant", "tenant_a", "--name", "ci", "--scope", "admin"];
    const code = await main(["node", "bd3", ...args, "--scope", "generations:read", "--expires-at", "2030-01-01"]);
    expect(code).toBe(0);
    expect(out.join("").split("\n")[0]).toBe(PLAIN);
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({
      tenant_id: "tenant_a",
      name: "ci",
      scopes: ["admin", "generations:read"],
      expires_at: "2030-01-01T00:00:00.000Z",
    });
  });

  it("create --priority-max sends the ceiling and prints it; a key without one prints -", async () => {
    const { fetch, requests } = fakeFetch([
      () => json({ ...key({ priority_max: 1 }), key: PLAIN }, 201),
      () => json({ ...key(), key: PLAIN }, 201),
    ]);
    vi.stubGlobal("fetch", fetch);
    vi.stubEnv("BD3_API_URL", "https://api.example.com");
    vi.stubEnv("BD3_API_KEY", "admin");
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const args = ["keys", "create", "--tenant", "tenant_a", "--name", "ci"];
    expect(await main(["node", "bd3", ...args, "--priority-max", "1"])).toBe(0);
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({
      tenant_id: "tenant_a",
      name: "ci",
      scopes: ["generations:read", "generations:write"],
      priority_max: 1,
    });
    expect(out.join("")).toContain("priority_max: 1\n");
    out.length = 0;
    expect(await main(["node", "bd3", ...args])).toBe(0);
    expect(JSON.parse(requests[1]?.body ?? "")).not.toHaveProperty("priority_max");
    expect(out.join("")).toContain("priority_max: -\n");
  });

  it.each(["3", "-1", "1.5", "high"])("refuses --priority-max %s as a usage error before any request", async (raw) => {
    const { fetch, requests } = fakeFetch([]);
    vi.stubGlobal("fetch", fetch);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const code = await main(["node", "bd3", "keys", "create", "--tenant", "t", "--name", "n", "--priority-max", raw]);
    expect(code).toBe(2);
    expect(requests).toHaveLength(0);
  });

  it("refuses an unknown scope as a usage error (exit 2) before any request", async () => {
    const { fetch, requests } = fakeFetch([]);
    vi.stubGlobal("fetch", fetch);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const code = await main(["node", "bd3", "keys", "create", "--tenant", "t", "--name", "n", "--scope", "root"]);
    expect(code).toBe(2);
    expect(requests).toHaveLength(0);
  });
});
