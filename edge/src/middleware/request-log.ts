import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { countEvent, statusClass } from "../observability/metrics.ts";

/** Longest path written to a log line (paths are ids and route names; an odd long one is cut). */
const LOGGED_PATH_MAX = 256;
const GENERATIONS_PATH = /^\/v1\/generations\/?$/;
const COMPLETIONS_PATH = /^\/v1\/completions\/?$/;

/**
 * Whether this answer created a generation: a create answered 200/202 that is not an idempotent replay, or a
 * completion whose answer names its generation (`Bd3-Generation-Id`, also on its 422 timeout; that route does
 * not mark replays, so a replayed completion counts again).
 */
function createdGeneration(c: Context<AppEnv>): boolean {
  if (c.req.method !== "POST") return false;
  const { path } = c.req;
  if (GENERATIONS_PATH.test(path)) {
    return (c.res.status === 200 || c.res.status === 202) && c.res.headers.get("Idempotent-Replayed") === null;
  }
  return COMPLETIONS_PATH.test(path) && c.res.headers.get("Bd3-Generation-Id") !== null;
}

/**
 * One structured line per request, mounted first so it sees every answer (errors included, as the error
 * handler wrote them): `{"event":"request","request_id","method","path","status","duration_ms","tenant_id",
 * "key_id"}` through console.log (Workers Logs keeps it as JSON). The path is `c.req.path`, never the query
 * string (stream tokens travel there), and no header or body is logged. `duration_ms` runs to the answer's
 * headers: a stream's body keeps flowing after the line is written. Tenant and key appear once the request
 * authenticated. It also counts the response by status class and any generation it created
 * (observability/metrics.ts).
 */
export function requestLog() {
  return createMiddleware<AppEnv>(async function requestLog(c, next) {
    const startedAt = Date.now();
    await next();
    const caller = c.get("caller");
    const status = c.res.status;
    const line = {
      event: "request",
      request_id: c.get("requestId") ?? null,
      method: c.req.method,
      path: c.req.path.slice(0, LOGGED_PATH_MAX),
      status,
      duration_ms: Date.now() - startedAt,
      ...(caller ? { tenant_id: caller.tenantId, key_id: caller.keyId } : {}),
    };
    console.log(JSON.stringify(line));
    const tenant = caller ? { tenantId: caller.tenantId } : {};
    countEvent(c.env, "responses", statusClass(status), {
      detail: `${status} ${c.req.method}`,
      value: line.duration_ms,
      ...tenant,
    });
    if (createdGeneration(c)) countEvent(c.env, "generations_created", "created", tenant);
  });
}
