import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { mintStreamToken } from "../../auth/stream-token.ts";
import { ApiError, jobGone, jobNotFound } from "../../errors/api-error.ts";
import { stubOf } from "./job-stub.ts";

/**
 * `POST /v1/generations/:id/stream-token`: a short-lived token that opens this job's stream routes as the
 * `stream_token` query parameter (auth/stream-token.ts), for a browser's `EventSource`, which cannot send
 * `Authorization`. Only an API key mints one; a stream token cannot mint another.
 */
export async function createStreamToken(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const { tenantId, keyId } = c.var.caller;
  if (keyId === "stream_token") {
    throw new ApiError(401, "authentication_error", "a stream token cannot mint another", { param: "stream_token" });
  }
  const view = await stubOf(c, id).view(tenantId);
  if (view === null) throw jobNotFound(id);
  if (view === "gone") throw jobGone(id);
  const { token, expiresAtMs } = await mintStreamToken(c.var.config.capabilitySecret, tenantId, id, Date.now());
  const query = `stream_token=${encodeURIComponent(token)}`;
  return c.json(
    {
      object: "stream_token",
      token,
      expires_at: new Date(expiresAtMs).toISOString(),
      urls: { stream: `${view.urls.stream}?${query}`, text: `${view.urls.text}?${query}` },
    },
    201,
  );
}
