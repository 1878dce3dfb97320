/**
 * Issue 17, item 1 on the real stack (the edge bundled as deployed, in Miniflare, with its KeyDirectory):
 * the development key (admin in wrangler.toml's top level) creates a key, the key works, the key is revoked,
 * and the next request with it is a 401. Then `bd3 keys create` as a child process, as an operator runs it.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { ApiKey, ApiKeyList, CreatedApiKey } from "@bd3-serve/shared";
import { describe, expect, it } from "vitest";
import { API_KEY, REPO_ROOT, stackAddresses } from "../support/stack.ts";

async function api(path: string, key: string, body?: unknown) {
  const response = await fetch(`${stackAddresses().edgeUrl}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Runs the `bd3` bin (the SDK's CLI) against the stack's edge; resolves with its exit code and output. */
function bd3(args: string[]) {
  const child = spawn(join(REPO_ROOT, "node_modules/.bin/bd3"), args, {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      BD3_API_URL: stackAddresses().edgeUrl,
      BD3_API_KEY: API_KEY,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("API keys managed at run time", () => {
  it("creates a key, uses it, revokes it: then 401", async () => {
    const scopes = ["generations:read", "generations:write"];
    const created = await api("/v1/admin/keys", API_KEY, { tenant_id: "tenant_stack_keys", name: "e2e", scopes });
    expect(created.status).toBe(201);
    const key = created.body as unknown as CreatedApiKey;
    expect(key.key).toMatch(/^bd3_live_/);

    expect((await api("/v1/generations", key.key)).status).toBe(200);
    expect((await api("/v1/models", key.key)).status).toBe(200);
    // A non-admin key cannot manage keys.
    expect((await api("/v1/admin/keys", key.key)).status).toBe(403);

    const list = await api("/v1/admin/keys?tenant_id=tenant_stack_keys", API_KEY);
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(key.key);
    expect((list.body as unknown as ApiKeyList).data.map((listed) => listed.id)).toContain(key.id);

    const revoked = await api(`/v1/admin/keys/${key.id}/revoke`, API_KEY, {});
    expect(revoked.status).toBe(200);
    expect((revoked.body as unknown as ApiKey).revoked_at).not.toBeNull();
    const refused = await api("/v1/generations", key.key);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { type: "authentication_error" } });
  });

  it("`bd3 keys create` mints a key that works", async () => {
    const result = await bd3(["keys", "create", "--tenant", "tenant_stack_cli", "--name", "cli", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const created = JSON.parse(result.stdout.trim()) as CreatedApiKey;
    expect(created).toMatchObject({ tenant_id: "tenant_stack_cli", scopes: ["generations:read", "generations:write"] });
    expect((await api("/v1/generations", created.key)).status).toBe(200);

    const listed = await bd3(["keys", "list", "--tenant", "tenant_stack_cli"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(created.id);
    expect(listed.stdout).not.toContain(created.key);
    const revoked = await bd3(["keys", "revoke", created.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await api("/v1/generations", created.key)).status).toBe(401);
  });
});
