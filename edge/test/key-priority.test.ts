/**
 * Issue 17: a run-time key of the key directory carries a priority ceiling (`priority_max`) as an API_KEYS
 * entry does: set on the admin create, kept by a rotation, shown in the views, and enforced on creates from
 * the caller (no config scan); a directory stored before the column gets it when the object starts.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ApiKey, ApiKeyList, ApiKeyRotation, CreatedApiKey, ErrorBody, JobView } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { findCaller } from "../src/auth/api-keys.ts";
import { KeyDirectory } from "../src/keys/key-directory.ts";
import { keyDirectoryStub } from "../src/keys/key-directory-stub.ts";
import { mintKey } from "../src/keys/mint.ts";
import worker from "../src/worker.ts";
import { call, json, ORIGIN } from "./helpers/api.ts";

const admin = (method: string, path: string, body?: unknown) =>
  call(method, `/v1/admin${path}`, { key: "admin", ...(body === undefined ? {} : { body }) });

async function createKey(tenantId: string, extra: Record<string, unknown> = {}): Promise<CreatedApiKey> {
  const scopes = ["generations:read", "generations:write"];
  const response = await admin("POST", "/keys", { tenant_id: tenantId, name: "ci", scopes, ...extra });
  expect(response.status, await response.clone().text()).toBe(201);
  return json<CreatedApiKey>(response);
}

/** A create with a raw (directory) key; waits for its background work (last_used_at). */
async function createWith(key: string, body: Record<string, unknown>) {
  const request = new Request(`${ORIGIN}/v1/generations`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function errorOf(response: Response) {
  return (await json<ErrorBody>(response)).error;
}

describe("the key directory's priority_max", () => {
  it("stores the ceiling, returns it on lookup and keeps it on rotation; a key without one has null", async () => {
    const directory = keyDirectoryStub(env);
    const capped = await mintKey();
    const base = { name: "dir", tenantId: "tenant_keyprio_dir", scopes: ["generations:write" as const] };
    const row = await directory.create({ ...capped, ...base, expiresAt: null, priorityMax: 1 });
    expect(row.priorityMax).toBe(1);
    expect((await directory.lookup(capped.sha256))?.priorityMax).toBe(1);
    const next = await mintKey();
    const rotated = await directory.rotate(row.id, next, 0);
    if (typeof rotated === "string") throw new Error(`rotate refused: ${rotated}`);
    expect([rotated.created.priorityMax, rotated.previous.priorityMax]).toEqual([1, 1]);

    const open = await mintKey();
    expect((await directory.create({ ...open, ...base, expiresAt: null })).priorityMax).toBeNull();
    // The caller carries the ceiling (read with the key: a create looks nothing else up).
    const sources = { records: [], lookupManaged: (hash: string) => directory.lookup(hash) };
    expect(await findCaller(sources, next.key)).toMatchObject({ isManaged: true, priorityMax: 1 });
    expect(await findCaller(sources, open.key)).toMatchObject({ priorityMax: null });
    const record = { id: "key_rec", tenant_id: "tenant_keyprio_dir", sha256: capped.sha256, priority_max: 0 };
    expect(await findCaller({ records: [record] }, capped.key)).toMatchObject({ isManaged: false, priorityMax: 0 });
  });

  it("adds the column to a directory stored before it: its keys have no ceiling, new ones may", async () => {
    const stub = env.KEYS.get(env.KEYS.idFromName("keys-before-priority-max"));
    const old = await mintKey();
    await runInDurableObject(stub, (_instance: KeyDirectory, state) => {
      const { sql } = state.storage;
      // The table as the first version of the directory wrote it.
      sql.exec("DROP TABLE api_keys");
      sql.exec(`CREATE TABLE api_keys (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL, name TEXT NOT NULL, tenant_id TEXT NOT NULL, scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL, expires_at INTEGER, last_used_at INTEGER, revoked_at INTEGER)`);
      sql.exec(
        `INSERT INTO api_keys (id, sha256, prefix, name, tenant_id, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        old.id,
        old.sha256,
        old.prefix,
        "old",
        "tenant_keyprio_old",
        '["generations:write"]',
        Date.now(),
      );
      // The object starting again on that storage (a deploy of this version).
      const restarted = new KeyDirectory(state, env);
      const columns = sql
        .exec<{ name: string }>("PRAGMA table_info(api_keys)")
        .toArray()
        .map((column) => column.name);
      expect(columns).toContain("priority_max");
      expect(restarted.lookup(old.sha256)).toMatchObject({ id: old.id, priorityMax: null });
      const created = restarted.create({
        id: "key_new",
        sha256: "0".repeat(64),
        prefix: "bd3_live_new0",
        name: "new",
        tenantId: "tenant_keyprio_old",
        scopes: ["generations:write"],
        expiresAt: null,
        priorityMax: 0,
      });
      expect(created.priorityMax).toBe(0);
    });
  });
});

describe("POST /v1/admin/keys priority_max", () => {
  it("creates a capped key, shows the ceiling in the list and keeps it on rotation; none: no field", async () => {
    const capped = await createKey("tenant_keyprio_admin", { priority_max: 1 });
    expect(capped.priority_max).toBe(1);
    const open = await createKey("tenant_keyprio_admin");
    expect(open).not.toHaveProperty("priority_max");
    const list = await json<ApiKeyList>(await admin("GET", "/keys?tenant_id=tenant_keyprio_admin"));
    const byId = new Map(list.data.map((key): [string, ApiKey] => [key.id, key]));
    expect(byId.get(capped.id)?.priority_max).toBe(1);
    expect(byId.get(open.id)).not.toHaveProperty("priority_max");

    const response = await admin("POST", `/keys/${capped.id}/rotate`, { overlap_seconds: 0 });
    expect(response.status).toBe(201);
    const rotation = await json<ApiKeyRotation>(response);
    expect([rotation.new_key.priority_max, rotation.old_key.priority_max]).toEqual([1, 1]);
    const refused = await createWith(rotation.new_key.key, { prompt: "x", priority: 2 });
    expect(refused.status).toBe(403);
  });

  it.each([[3], [-1], [1.5], ["1"], [null]])("refuses priority_max %j with a 400 naming it", async (value) => {
    const response = await admin("POST", "/keys", {
      tenant_id: "tenant_keyprio_bad",
      name: "ci",
      scopes: ["generations:write"],
      priority_max: value,
    });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ type: "invalid_request_error", param: "priority_max" });
  });

  it("holds a directory key's creates to its ceiling: 403 priority_not_allowed above it, 202 at or below", async () => {
    const normal = await createKey("tenant_keyprio_use", { priority_max: 1 });
    const refused = await createWith(normal.key, { prompt: "x", priority: 2 });
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({
      type: "permission_error",
      code: "priority_not_allowed",
      param: "priority",
    });
    const accepted = await createWith(normal.key, { prompt: "x", priority: 1 });
    expect(accepted.status).toBe(202);
    expect((await json<JobView>(accepted)).priority).toBe(1);

    // Held to low: low by default, normal refused; a key without a ceiling may ask for high.
    const low = await createKey("tenant_keyprio_use", { priority_max: 0 });
    const byDefault = await createWith(low.key, { prompt: "x" });
    expect(byDefault.status).toBe(202);
    expect((await json<JobView>(byDefault)).priority).toBe(0);
    expect((await createWith(low.key, { prompt: "x", priority: 1 })).status).toBe(403);
    const open = await createKey("tenant_keyprio_use");
    const high = await createWith(open.key, { prompt: "x", priority: 2 });
    expect(high.status).toBe(202);
    expect((await json<JobView>(high)).priority).toBe(2);
  });
});

describe("the OpenAPI document", () => {
  it("lists priority_max on the create body and the key views", async () => {
    const document = await json<{ components: { schemas: Record<string, { properties?: Record<string, unknown> }> } }>(
      await call("GET", "/openapi.json", { key: null }),
    );
    for (const name of ["CreateApiKeyRequest", "ApiKey", "CreatedApiKey"]) {
      expect(document.components.schemas[name]?.properties, name).toHaveProperty("priority_max");
    }
  });
});
