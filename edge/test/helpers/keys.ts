import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ApiKeyList, CreatedApiKey, ErrorBody } from "@bd3-serve/shared";
import { expect } from "vitest";
import worker from "../../src/worker.ts";
import { call, json, ORIGIN } from "./api.ts";

/** Requests of the key tests: raw keys, the admin routes, key creation and listing. */

/** One request with a raw key (null: none); waits for its background work (last_used_at) to finish. */
export async function withKey(method: string, path: string, key: string | null, body?: unknown) {
  const headers: Record<string, string> = {};
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const ctx = createExecutionContext();
  const request = new Request(`${ORIGIN}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const response = await worker.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export const admin = (method: string, path: string, body?: unknown) =>
  call(method, `/v1/admin${path}`, { key: "admin", ...(body === undefined ? {} : { body }) });

export async function createKey(tenantId: string, extra: Record<string, unknown> = {}): Promise<CreatedApiKey> {
  const scopes = ["generations:read", "generations:write"];
  const response = await admin("POST", "/keys", { tenant_id: tenantId, name: "ci", scopes, ...extra });
  expect(response.status, await response.clone().text()).toBe(201);
  return json<CreatedApiKey>(response);
}

export async function listOf(tenantId: string): Promise<ApiKeyList> {
  const response = await admin("GET", `/keys?tenant_id=${tenantId}`);
  expect(response.status).toBe(200);
  return json<ApiKeyList>(response);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function errorOf(response: Response) {
  return (await json<ErrorBody>(response)).error;
}
