import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { findCaller } from "../auth/api-keys.ts";
import { ApiError } from "../errors/api-error.ts";
import { countAuthFailure, refuseBlockedAddress } from "./auth-failures.ts";

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * `Authorization: Bearer <api key>` -> `c.var.caller` (tenant and key id), or 401. Failures count against the
 * client's address (auth-failures.ts): an address over its budget gets 429 before any key is looked up.
 */
export function apiKeyAuth({ realm = "bd3-serve" }: { realm?: string } = {}) {
  const challenge = { "WWW-Authenticate": `Bearer realm="${realm}"` };
  return createMiddleware<AppEnv>(async function apiKeyAuth(c, next) {
    refuseBlockedAddress(c);
    const match = BEARER.exec(c.req.header("Authorization") ?? "");
    if (!match?.[1]) {
      await countAuthFailure(c);
      throw new ApiError(401, "authentication_error", "missing API key: send Authorization: Bearer <key>", {
        param: "Authorization",
        headers: challenge,
      });
    }
    const caller = await findCaller(c.var.config.apiKeys, match[1]);
    if (!caller) {
      await countAuthFailure(c);
      throw new ApiError(401, "authentication_error", "invalid API key", {
        param: "Authorization",
        headers: challenge,
      });
    }
    c.set("caller", caller);
    await next();
  });
}
