/**
 * Issue 17: API keys managed at run time (/v1/admin/keys, the KeyDirectory object, scopes per route), through
 * the edge's fetch handler inside workerd.
 */
import { env } from "cloudflare:workers";
import type { ApiKey, ApiKeyList, ApiKeyRotation } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { keyDirectoryStub } from "../src/keys/key-directory-stub.ts";
import { mintKey } from "../src/keys/mint.ts";
import { call, json } from "./helpers/api.ts";

import { admin, createKey, errorOf, listOf, sleep, withKey } from "./helpers/keys.ts";

describe("the key lifecycle", () => {
  it("creates a key shown once, uses it, lists it without the secret, revokes it: then 401", async () => {
    const created = await createKey("tenant_keys_life");
    expect(created.key).toMatch(/^bd3_live_[A-Za-z0-9_-]{43}$/);
    expect(created.prefix).toBe(created.key.slice(0, 13));
    expect(created).toMatchObject({ object: "api_key", tenant_id: "tenant_keys_life", name: "ci", revoked_at: null });
    expect(created.id).toMatch(/^key_[0-9a-f]{24}$/);
    expect(created).not.toHaveProperty("sha256");

    expect((await withKey("GET", "/v1/generations", created.key)).status).toBe(200);
    const job = await withKey("POST", "/v1/generations", created.key, { prompt: "In the beginning" });
    expect(job.status).toBe(202);
    expect((await json<{ tenant_id?: string; id: string }>(job)).id).toBeTruthy();

    const list = await listOf("tenant_keys_life");
    const text = JSON.stringify(list);
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(created.key.slice(13));
    const listed = list.data.find((key) => key.id === created.id) as ApiKey;
    expect(listed).not.toHaveProperty("key");
    expect(listed.prefix).toBe(created.prefix);
    expect(listed.last_used_at).not.toBeNull(); // written in the background (waitUntil) after the first use

    const revoked = await admin("POST", `/keys/${created.id}/revoke`);
    expect(revoked.status).toBe(200);
    const view = await json<ApiKey>(revoked);
    expect(view.revoked_at).not.toBeNull();
    // This isolate had the key cached from the uses above: the revoke dropped it at once.
    const refused = await withKey("GET", "/v1/generations", created.key);
    expect(refused.status).toBe(401);
    expect(await errorOf(refused)).toMatchObject({ type: "authentication_error", message: "API key revoked" });
    // Idempotent: the first instant stays.
    const again = await json<ApiKey>(await admin("POST", `/keys/${created.id}/revoke`, {}));
    expect(again.revoked_at).toBe(view.revoked_at);
  });

  it("refuses a key past its expires_at, and a create whose expires_at has passed", async () => {
    const minted = await mintKey();
    await keyDirectoryStub(env).create({
      ...minted,
      name: "old",
      tenantId: "tenant_keys_expired",
      scopes: ["generations:read"],
      expiresAt: Date.now() - 1_000,
    });
    const refused = await withKey("GET", "/v1/generations", minted.key);
    expect(refused.status).toBe(401);
    expect((await errorOf(refused)).message).toBe("API key expired");

    const past = await admin("POST", "/keys", {
      tenant_id: "tenant_keys_expired",
      name: "x",
      scopes: ["admin"],
      expires_at: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(past.status).toBe(400);
    expect((await errorOf(past)).param).toBe("expires_at");
  });

  it("rotates: both keys work until the overlap ends, then only the new one", async () => {
    const old = await createKey("tenant_keys_rotate");
    const started = Date.now();
    const response = await admin("POST", `/keys/${old.id}/rotate`, { overlap_seconds: 1 });
    expect(response.status).toBe(201);
    const rotation = await json<ApiKeyRotation>(response);
    expect(rotation.new_key).toMatchObject({ tenant_id: old.tenant_id, name: old.name, scopes: old.scopes });
    expect(rotation.new_key.key).not.toBe(old.key);
    expect(Date.parse(rotation.old_key.expires_at ?? "")).toBeGreaterThanOrEqual(started + 1_000 - 5);
    expect(rotation.old_key).not.toHaveProperty("key");
    expect((await withKey("GET", "/v1/models", old.key)).status).toBe(200);
    expect((await withKey("GET", "/v1/models", rotation.new_key.key)).status).toBe(200);
    await sleep(Math.max(0, Date.parse(rotation.old_key.expires_at ?? "") - Date.now()) + 50);
    expect((await withKey("GET", "/v1/models", old.key)).status).toBe(401);
    expect((await withKey("GET", "/v1/models", rotation.new_key.key)).status).toBe(200);
  });

  it("rotates with a day's overlap by default; refuses a revoked key (409) and an unknown one (404)", async () => {
    const key = await createKey("tenant_keys_rotate2");
    const rotation = await json<ApiKeyRotation>(await admin("POST", `/keys/${key.id}/rotate`));
    const overlapMs = Date.parse(rotation.old_key.expires_at ?? "") - Date.now();
    expect(overlapMs).toBeGreaterThan(86_400_000 - 60_000);
    expect(overlapMs).toBeLessThanOrEqual(86_400_000);
    await admin("POST", `/keys/${rotation.new_key.id}/revoke`);
    const conflict = await admin("POST", `/keys/${rotation.new_key.id}/rotate`, { overlap_seconds: 0 });
    expect(conflict.status).toBe(409);
    expect((await errorOf(conflict)).code).toBe("key_revoked");
    expect((await admin("POST", "/keys/key_000000000000000000000000/rotate")).status).toBe(404);
    expect((await admin("POST", "/keys/key_000000000000000000000000/revoke")).status).toBe(404);
    // API_KEYS entries are not in the directory: not revocable here.
    expect((await admin("POST", "/keys/key_a/revoke")).status).toBe(404);
  });

  it("pages the list with a cursor", async () => {
    const first = await createKey("tenant_keys_page");
    const second = await createKey("tenant_keys_page");
    const page = await json<ApiKeyList>(await admin("GET", "/keys?tenant_id=tenant_keys_page&limit=1"));
    expect(page.data.map((key) => key.id)).toEqual([first.id]);
    expect(page.has_more).toBe(true);
    const next = await json<ApiKeyList>(
      await admin("GET", `/keys?tenant_id=tenant_keys_page&limit=1&cursor=${page.next_cursor}`),
    );
    expect(next.data.map((key) => key.id)).toEqual([second.id]);
    expect(next.has_more).toBe(false);
  });
});

describe("scopes", () => {
  it("refuses a key without the route's scope with 403 naming the scope", async () => {
    const reader = await createKey("tenant_keys_scopes", { scopes: ["generations:read"] });
    expect((await withKey("GET", "/v1/generations", reader.key)).status).toBe(200);
    for (const [method, path] of [
      ["POST", "/v1/generations"],
      ["POST", "/v1/completions"],
      ["POST", "/v1/generations/gen_x/cancel"],
      ["POST", "/v1/generations/gen_x/stream-token"],
      ["POST", "/v1/webhook-secret/rotate"],
    ] as const) {
      const refused = await withKey(method, path, reader.key, { prompt: "x" });
      expect(refused.status, path).toBe(403);
      expect(await errorOf(refused)).toMatchObject({ type: "permission_error", code: "missing_scope" });
    }
    expect((await errorOf(await withKey("POST", "/v1/generations", reader.key, {}))).message).toContain(
      "generations:write",
    );
    const writer = await createKey("tenant_keys_scopes", { scopes: ["generations:write"] });
    for (const path of ["/v1/generations", "/v1/models", "/v1/webhook-secret", "/v1/generations/gen_x/text"]) {
      const refused = await withKey("GET", path, writer.key);
      expect(refused.status, path).toBe(403);
      expect((await errorOf(refused)).message).toContain("generations:read");
    }
  });

  it("keeps /v1/admin/* for admin keys (a tenant's own webhook secret rotation needs only generations:write)", async () => {
    for (const [method, path] of [
      ["POST", "/v1/admin/keys"],
      ["GET", "/v1/admin/keys"],
      ["POST", "/v1/admin/keys/key_x/revoke"],
      ["POST", "/v1/admin/keys/key_x/rotate"],
    ] as const) {
      const refused = await call(method, path, { key: "tenantA", ...(method === "POST" ? { body: {} } : {}) });
      expect(refused.status, path).toBe(403);
      expect((await errorOf(refused)).message).toContain("'admin'");
    }
    expect((await call("GET", "/v1/admin/keys", { key: null })).status).toBe(401);
    // An admin-only key manages keys but reads no generations.
    const refused = await call("GET", "/v1/generations", { key: "admin" });
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).message).toContain("generations:read");
  });
});

describe("bad input", () => {
  const base = { tenant_id: "tenant_keys_bad", name: "ci", scopes: ["generations:read"] };
  it.each([
    [{ ...base, tenant_id: undefined }, "tenant_id"],
    [{ ...base, tenant_id: "not ok!" }, "tenant_id"],
    [{ ...base, name: "" }, "name"],
    [{ ...base, name: "x".repeat(101) }, "name"],
    [{ ...base, scopes: [] }, "scopes"],
    [{ ...base, scopes: ["root"] }, "scopes.0"],
    [{ ...base, scopes: ["admin", "admin"] }, "scopes"],
    [{ ...base, expires_at: "tomorrow" }, "expires_at"],
    [{ ...base, key: "bd3_mine" }, "key"],
  ])("POST /v1/admin/keys %j -> 400 naming %s", async (body, param) => {
    const response = await admin("POST", "/keys", body);
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ type: "invalid_request_error", param });
  });

  it.each([
    ["/keys?tenant_id=bad%20id", "tenant_id"],
    ["/keys?limit=0", "limit"],
    ["/keys?cursor=nope!", "cursor"],
  ])("GET %s -> 400 naming %s", async (path, param) => {
    const response = await admin("GET", path);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).param).toBe(param);
  });

  it.each([
    [{ overlap_seconds: -1 }, "overlap_seconds"],
    [{ overlap_seconds: 7 * 86_400 + 1 }, "overlap_seconds"],
    [{ overlap_seconds: 1.5 }, "overlap_seconds"],
    [{ overlap: 1 }, "overlap"],
  ])("POST rotate %j -> 400 naming %s", async (body, param) => {
    const response = await admin("POST", "/keys/key_000000000000000000000000/rotate", body);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).param).toBe(param);
  });
});
