import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { readConfig } from "../config/config.ts";
import { ApiError } from "../errors/api-error.ts";

/**
 * Parses the configuration onto the context and refuses every request while it has problems (a missing
 * secret, a dev secret in production, a bad API_KEYS list): failing closed beats serving with a weak secret.
 */
export function configGuard() {
  return createMiddleware<AppEnv>(async function configGuard(c, next) {
    const config = readConfig(c.env);
    if (config.problems.length > 0) {
      console.error(JSON.stringify({ event: "misconfigured", request_id: c.var.requestId, problems: config.problems }));
      throw new ApiError(500, "api_error", "the edge is misconfigured; see /healthz");
    }
    c.set("config", config);
    await next();
  });
}
