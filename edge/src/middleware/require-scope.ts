import type { ApiKeyScope } from "@bd3-serve/shared";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import type { Caller } from "../auth/api-keys.ts";
import { ApiError } from "../errors/api-error.ts";
import { STREAM_TOKEN_KEY_ID } from "./api-key-auth.ts";

/**
 * The scope a public route needs (issue 17): `/v1/admin/*` needs `admin` (an operator's role: it manages every
 * tenant's keys); reads (GET, HEAD: generations, their blocks, stream and text, models, usage, the webhook
 * secret) need `generations:read`; every other method (create, cancel, stream-token, completions, and the
 * tenant's own webhook-secret rotation, which a tenant does alone) `generations:write`.
 * A route added later falls under the same rule by its method, so none is left open by omission.
 */
export function requiredScope(method: string, path: string): ApiKeyScope {
  const route = path.replace(/\/+$/, "");
  if (route === "/v1/admin" || route.startsWith("/v1/admin/")) return "admin";
  return method === "GET" || method === "HEAD" ? "generations:read" : "generations:write";
}

function refuse(caller: Caller, scope: ApiKeyScope): void {
  // A stream token carries no scopes: api-key-auth.ts already confines it to GET on one job's stream and text.
  if (caller.keyId === STREAM_TOKEN_KEY_ID) return;
  if (caller.scopes.includes(scope)) return;
  throw new ApiError(403, "permission_error", `this API key lacks the scope '${scope}' this route needs`, {
    param: "Authorization",
    code: "missing_scope",
  });
}

/** After authentication on `/v1/*`: 403 `permission_error` naming the scope when the key lacks it. */
export function routeScopes() {
  return createMiddleware<AppEnv>(async function routeScopes(c, next) {
    refuse(c.var.caller, requiredScope(c.req.method, c.req.path));
    await next();
  });
}

/** One route's (or router's) own requirement, on top of routeScopes (the admin router repeats `admin`). */
export function requireScope(scope: ApiKeyScope) {
  return createMiddleware<AppEnv>(async function requireScope(c, next) {
    refuse(c.var.caller, scope);
    await next();
  });
}
