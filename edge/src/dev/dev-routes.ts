import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { readConfig } from "../config/config.ts";
import { notFoundHandler } from "../errors/error-handler.ts";
import { devStreamsStub } from "./dev-streams-stub.ts";

/**
 * Development-only routes: the generic Durable Streams protocol at `/dev/streams/*` (see
 * dev-streams-object.ts). Outside ENVIRONMENT=development, or without the DEV_STREAMS binding, every path
 * here is the ordinary 404.
 */
export function devRoutes() {
  const app = new Hono<AppEnv>();
  app.all("/streams/*", async (c) => {
    const stub = devStreamsStub(c.env);
    if (!readConfig(c.env).isDevelopment || stub === null) return notFoundHandler(c);
    return stub.fetch(c.req.raw);
  });
  return app;
}
