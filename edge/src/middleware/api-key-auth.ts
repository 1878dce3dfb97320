import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { findCaller } from "../auth/api-keys.ts";
import { ApiError } from "../errors/api-error.ts";

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** `Authorization: Bearer <api key>` -> `c.var.caller` (tenant and key id), or 401. */
export function apiKeyAuth({ realm = "bd3-serve" }: { realm?: string } = {}) {
  const challenge = { "WWW-Authenticate": `Bearer realm="${realm}"` };
  return createMiddleware<AppEnv>(async function apiKeyAuth(c, next) {
    const match = BEARER.exec(c.req.header("Authorization") ?? "");
    if (!match?.[1]) {
      throw new ApiError(401, "authentication_error", "missing API key: send Authorization: Bearer <key>", {
        param: "Authorization",
        headers: challenge,
      });
    }
    const caller = await findCaller(c.var.config.apiKeys, match[1]);
    if (!caller) {
      throw new ApiError(401, "authentication_error", "invalid API key", {
        param: "Authorization",
        headers: challenge,
      });
    }
    c.set("caller", caller);
    await next();
  });
}
