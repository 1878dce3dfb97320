import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";

/**
 * Origin of the links in job views, Location headers and webhooks: PUBLIC_BASE_URL, which production requires
 * (config.ts refuses to serve without it), so a caller's `Host` header never becomes a link another party
 * follows. Only in development, when it is unset, the request's own origin stands in.
 */
export function publicBaseUrl(c: Context<AppEnv>): string {
  return c.var.config.publicBaseUrl ?? new URL(c.req.url).origin;
}
