import { Hono } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { readConfig } from "../../config/config.ts";
import { openApiDocument } from "../../openapi/document.ts";

/** `GET /healthz` (no auth; 503 naming config problems, never their values) and `GET /openapi.json`. */
export function metaRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => {
    const { problems } = readConfig(c.env);
    if (problems.length > 0) return c.json({ status: "misconfigured", problems }, 503);
    return c.json({ status: "ok" });
  });
  app.get("/openapi.json", (c) =>
    c.json(openApiDocument(readConfig(c.env).publicBaseUrl ?? new URL(c.req.url).origin)),
  );
  return app;
}
