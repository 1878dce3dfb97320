import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { ErrorBodySchema, type JobView } from "@bd3-serve/shared";
import { expect } from "vitest";
import worker from "../../src/worker.ts";
import { TEST_KEYS } from "../test-keys.ts";

export const ORIGIN = "https://edge.test";
export type TestKey = keyof typeof TEST_KEYS;

export interface CallOptions {
  key?: TestKey | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One request through the edge's fetch handler: the Worker entry module itself (the pool gives tests the
 * same module instance the bindings use), called directly rather than through the `exports` loopback,
 * which costs tens of milliseconds per non-2xx answer in the pool and would dominate the fuzz and
 * rate-limit tests.
 */
export function call(method: string, path: string, { key = "tenantA", body, headers = {} }: CallOptions = {}) {
  const all: Record<string, string> = { ...headers };
  if (key !== null) all.Authorization = `Bearer ${TEST_KEYS[key].key}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    all["Content-Type"] ??= "application/json";
  }
  const request = new Request(`${ORIGIN}${path}`, { method, headers: all, body: payload });
  return worker.fetch(request, env, createExecutionContext());
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** Creates a job and returns its view (asserting the 202). */
export async function createJob(
  body: Record<string, unknown> = { prompt: "In the beginning" },
  options: CallOptions = {},
) {
  const response = await call("POST", "/v1/generations", { ...options, body });
  if (response.status !== 202) throw new Error(`create answered ${response.status}: ${await response.text()}`);
  return json<JobView>(response);
}

/** Asserts an error answer: its status, `error.type` and (when given) `error.param`; returns the body. */
export async function expectError(response: Response, status: number, type: string, param?: string) {
  expect(response.status).toBe(status);
  const body = ErrorBodySchema.parse(await response.json());
  expect(body.error.type).toBe(type);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body;
}
