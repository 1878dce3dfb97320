import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { findCaller } from "../auth/api-keys.ts";
import { capabilityKeys } from "../auth/capability-secrets.ts";
import { verifyStreamToken } from "../auth/stream-token.ts";
import { ApiError } from "../errors/api-error.ts";
import { lookupManagedKey, recordUse } from "../keys/key-lookup.ts";
import { countAuthFailure, refuseBlockedAddress } from "./auth-failures.ts";

/** `caller.keyId` of a stream-token request (no key: see streamTokenCaller). */
export const STREAM_TOKEN_KEY_ID = "stream_token";
const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;
/** The only routes a stream token opens: reading one job's stream (SSE blocks, or the text stream). */
const STREAM_TOKEN_ROUTE = /^\/v1\/generations\/([A-Za-z0-9_-]{1,128})\/(stream|text)$/;

const REFUSALS = { revoked: "API key revoked", expired: "API key expired" } as const;

/**
 * `Authorization: Bearer <api key>` -> `c.var.caller` (tenant, key id, scopes), or 401. Keys come from API_KEYS
 * and from the key directory (keys/, cached per isolate); a directory key's use is recorded in the background.
 * Failures count against the client's address (auth-failures.ts): an address over its budget gets 429 before
 * any key is looked up.
 */
export function apiKeyAuth({ realm = "bd3-serve" }: { realm?: string } = {}) {
  const challenge = { "WWW-Authenticate": `Bearer realm="${realm}"` };
  return createMiddleware<AppEnv>(async function apiKeyAuth(c, next) {
    refuseBlockedAddress(c);
    const streamToken = c.req.query("stream_token");
    if (streamToken !== undefined) {
      c.set("caller", await streamTokenCaller(c, streamToken, challenge));
      await next();
      return;
    }
    const match = BEARER.exec(c.req.header("Authorization") ?? "");
    if (!match?.[1]) {
      await countAuthFailure(c);
      throw new ApiError(401, "authentication_error", "missing API key: send Authorization: Bearer <key>", {
        param: "Authorization",
        headers: challenge,
      });
    }
    const env = c.env;
    const caller = await findCaller(
      { records: c.var.config.apiKeys, lookupManaged: (hash) => lookupManagedKey(env, hash) },
      match[1],
    );
    if (caller === null || typeof caller === "string") {
      await countAuthFailure(c);
      throw new ApiError(401, "authentication_error", caller === null ? "invalid API key" : REFUSALS[caller], {
        param: "Authorization",
        headers: challenge,
      });
    }
    if (caller.isManaged) recordUse(env, (promise) => backgroundOf(c, promise), caller.keyId);
    c.set("caller", caller);
    await next();
  });
}

/** Work after the answer (waitUntil); without an execution context (some tests) it simply runs unawaited. */
function backgroundOf(c: Context<AppEnv>, promise: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(promise);
  } catch {
    // no ExecutionContext: the promise carries on by itself and logs its own failure
  }
}

/**
 * A stream token (auth/stream-token.ts) in place of a key, on the stream routes of the job it names only; any
 * failure is the same 401, so a token reveals nothing about a job it does not open.
 */
async function streamTokenCaller(c: Context<AppEnv>, token: string, challenge: Record<string, string>) {
  const route = STREAM_TOKEN_ROUTE.exec(c.req.path);
  if (c.req.method !== "GET" || route?.[1] === undefined) {
    throw new ApiError(
      401,
      "authentication_error",
      "stream_token is accepted only by GET on a generation's stream and text",
      {
        param: "stream_token",
        headers: challenge,
      },
    );
  }
  const tenantId = await verifyStreamToken(capabilityKeys(c.var.config), route[1], token, Date.now());
  if (tenantId === null) {
    await countAuthFailure(c);
    throw new ApiError(401, "authentication_error", "invalid or expired stream token", {
      param: "stream_token",
      headers: challenge,
    });
  }
  // No scopes: the route check above is the whole of what a stream token may do (require-scope.ts lets it by).
  return {
    keyId: STREAM_TOKEN_KEY_ID,
    tenantId,
    keyRateLimitPerMinute: null,
    scopes: [],
    isManaged: false,
    // Never read: a stream token opens no create.
    priorityMax: null,
  };
}
