import { Hono } from "hono";
import type { AppEnv } from "./app-env.ts";
import { devRoutes } from "./dev/dev-routes.ts";
import { errorHandler, notFoundHandler } from "./errors/error-handler.ts";
import { apiKeyAuth } from "./middleware/api-key-auth.ts";
import { configGuard } from "./middleware/config-guard.ts";
import { publicCors } from "./middleware/cors.ts";
import { rateLimit } from "./middleware/rate-limit.ts";
import { requestId } from "./middleware/request-id.ts";
import { requestLog } from "./middleware/request-log.ts";
import { routeScopes } from "./middleware/require-scope.ts";
import { workerHost } from "./middleware/worker-host.ts";
import { adminKeyRoutes } from "./routes/admin/admin-key-routes.ts";
import { adminMetricsRoutes } from "./routes/admin/admin-metrics-routes.ts";
import { generationRoutes } from "./routes/generations/generation-routes.ts";
import { metaRoutes } from "./routes/meta/meta-routes.ts";
import { openAiRoutes } from "./routes/openai/openai-routes.ts";
import { usageRoutes } from "./routes/usage/usage-routes.ts";
import { webhookSecretRoutes } from "./routes/webhook-secret/webhook-secret-routes.ts";
import { workerRoutes } from "./routes/worker/worker-routes.ts";

/**
 * The edge app: public API v1 (API key, per-tenant rate limit, the scope each route needs), the admin key
 * routes (`/v1/admin/*`, an admin-scoped key), the worker API (per-job capability), and the unauthenticated
 * meta routes. Every error leaves as `{ error: { type, message, param?, code? } }`. Every request, first of all,
 * gets its log line and its counts (middleware/request-log.ts; `GET /v1/admin/metrics` reads the counts).
 */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.onError(errorHandler);
  app.notFound(notFoundHandler);
  app.use("*", requestLog(), requestId(), workerHost());
  app.route("/", metaRoutes());
  app.use("/v1/*", publicCors(), configGuard(), apiKeyAuth(), rateLimit(), routeScopes());
  app.route("/v1/generations", generationRoutes());
  app.route("/v1/webhook-secret", webhookSecretRoutes());
  app.route("/v1/admin", adminKeyRoutes());
  app.route("/v1/admin", adminMetricsRoutes());
  app.route("/v1", openAiRoutes());
  app.route("/v1/usage", usageRoutes());
  app.use("/internal/*", configGuard());
  app.route("/internal/v1/jobs", workerRoutes());
  app.route("/dev", devRoutes());
  return app;
}
