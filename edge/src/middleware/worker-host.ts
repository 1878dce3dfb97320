import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { readConfig } from "../config/config.ts";
import { ApiError } from "../errors/api-error.ts";

const WORKER_API_PREFIX = "/internal/";

/**
 * Splits the worker API from the public API by host when WORKER_API_HOSTNAME is set (production): the worker
 * host serves only `/internal/*` and the public hosts answer 404 for it, as for any unknown path. That host is
 * where the operator puts the production guard in front of the capability (Cloudflare Access service tokens
 * or mTLS on a Workers route; docs/worker-api.md). Unset (development, tests): one host serves both.
 */
export function workerHost() {
  return createMiddleware<AppEnv>(async function workerHost(c, next) {
    const { workerApiHostname } = readConfig(c.env);
    if (workerApiHostname !== null) {
      const isWorkerHost = new URL(c.req.url).hostname.toLowerCase() === workerApiHostname;
      const isWorkerPath = c.req.path.startsWith(WORKER_API_PREFIX);
      if (isWorkerHost !== isWorkerPath) {
        throw new ApiError(404, "not_found_error", `no route for ${c.req.method} ${c.req.path}`);
      }
    }
    await next();
  });
}
