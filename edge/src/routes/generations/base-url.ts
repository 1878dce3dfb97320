import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";

/** Origin for the urls in job views: PUBLIC_BASE_URL when set (behind a proxy), else the request's. */
export function publicBaseUrl(c: Context<AppEnv>): string {
  return c.var.config.publicBaseUrl ?? new URL(c.req.url).origin;
}
