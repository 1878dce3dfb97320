/**
 * Issue 17: the key lookup's isolate cache (the 60 s revocation bound) and the key routes in the OpenAPI
 * document, through the edge's fetch handler inside workerd.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findCaller } from "../src/auth/api-keys.ts";
import { sha256Hex } from "../src/auth/crypto.ts";
import { KEY_CACHE_TTL_MS, KeyLookupCache, UseThrottle } from "../src/keys/key-cache.ts";
import type { KeyRow } from "../src/keys/key-directory-rpc.ts";
import { keyDirectoryStub } from "../src/keys/key-directory-stub.ts";
import { call, json } from "./helpers/api.ts";
import { admin, createKey } from "./helpers/keys.ts";

describe("the isolate cache", () => {
  it("trusts a lookup, found or not, for KEY_CACHE_TTL_MS and no longer", () => {
    expect(KEY_CACHE_TTL_MS).toBeLessThanOrEqual(60_000);
    const cache = new KeyLookupCache<string>(1_000, 2);
    cache.set("a", "row", 0);
    cache.set("b", null, 0);
    expect(cache.get("a", 999)).toEqual({ isHit: true, value: "row" });
    expect(cache.get("b", 999)).toEqual({ isHit: true, value: null });
    expect(cache.get("a", 1_000)).toEqual({ isHit: false });
    cache.set("c", "row", 0);
    cache.set("d", "row", 0); // over the bound: the oldest entry goes
    expect(cache.size).toBe(2);
    expect(cache.get("c", 1)).toEqual({ isHit: true, value: "row" });
  });

  it("lets a second isolate see a revocation within the TTL", async () => {
    const created = await createKey("tenant_keys_isolate");
    const hash = await sha256Hex(created.key);
    // Another isolate: its own cache, the same directory. It looks the key up just before the revoke.
    const other = new KeyLookupCache<KeyRow>();
    const lookedUpAt = Date.now();
    const lookup = async (nowMs: number) => {
      const cached = other.get(hash, nowMs);
      if (cached.isHit) return cached.value;
      const row = await keyDirectoryStub(env).lookup(hash);
      other.set(hash, row, nowMs);
      return row;
    };
    const sources = (nowMs: number) => ({ records: [], lookupManaged: () => lookup(nowMs) });
    expect(await findCaller(sources(lookedUpAt), created.key, lookedUpAt)).toMatchObject({ keyId: created.id });
    expect((await admin("POST", `/keys/${created.id}/revoke`)).status).toBe(200);
    const stale = lookedUpAt + KEY_CACHE_TTL_MS - 1;
    expect(await findCaller(sources(stale), created.key, stale)).toMatchObject({ keyId: created.id }); // the bound
    const after = lookedUpAt + KEY_CACHE_TTL_MS;
    expect(await findCaller(sources(after), created.key, after)).toBe("revoked");
  });

  it("writes last_used_at at most once a minute per key", () => {
    const throttle = new UseThrottle(60_000);
    expect(throttle.shouldWrite("key_1", 0)).toBe(true);
    expect(throttle.shouldWrite("key_1", 59_999)).toBe(false);
    expect(throttle.shouldWrite("key_2", 59_999)).toBe(true);
    expect(throttle.shouldWrite("key_1", 60_000)).toBe(true);
  });
});

describe("the OpenAPI document", () => {
  it("describes the admin routes with the shared schemas, never a hash", async () => {
    const document = await json<{
      paths: Record<string, Record<string, { security?: unknown }>>;
      components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
    }>(await call("GET", "/openapi.json", { key: null }));
    expect(document.paths["/v1/admin/keys"]?.post?.security).toEqual([{ apiKey: ["admin"] }]);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/v1/admin/keys/{id}/revoke", "/v1/admin/keys/{id}/rotate"]),
    );
    expect(document.components.schemas.CreateApiKeyRequest?.required).toEqual(["tenant_id", "name", "scopes"]);
    expect(document.components.schemas.CreatedApiKey?.required).toContain("key");
    expect(Object.keys(document.components.schemas.ApiKey?.properties ?? {})).not.toContain("sha256");
  });
});
