import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { readConfig } from "../config/config.ts";
import { REQUEST_ID_HEADER } from "./request-id.ts";

/** What a browser may send: the API's own request headers (Authorization is never a cookie: no credentials). */
const ALLOWED_REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "Prefer", "Last-Event-ID"];
/** What a browser's script may read of an answer beside the safelisted ones. */
const EXPOSED_RESPONSE_HEADERS = [
  REQUEST_ID_HEADER,
  "Retry-After",
  "Preference-Applied",
  "Idempotent-Replayed",
  "Location",
  "ETag",
  "Stream-Next-Offset",
  "Stream-Up-To-Date",
  "Stream-Closed",
  "Stream-Cursor",
];
/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for the public API, from CORS_ALLOWED_ORIGINS (exact origins; none by default, so production answers
 * no browser of another origin until an operator lists one). Runs before authentication, so a preflight
 * needs no key; it grants nothing by itself: every real request still needs its key or stream token, and no
 * cookie is ever honoured (no credentials mode).
 */
export function publicCors() {
  return createMiddleware<AppEnv>(async function publicCors(c, next) {
    const { corsAllowedOrigins } = readConfig(c.env);
    const handler = cors({
      origin: (origin) => (corsAllowedOrigins.includes(origin) ? origin : null),
      allowMethods: ["GET", "HEAD", "POST"],
      allowHeaders: ALLOWED_REQUEST_HEADERS,
      exposeHeaders: EXPOSED_RESPONSE_HEADERS,
      maxAge: PREFLIGHT_MAX_AGE_SECONDS,
      credentials: false,
    });
    return handler(c, next);
  });
}
