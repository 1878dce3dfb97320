import { isTerminalJobStatus } from "@bd3-serve/shared";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { PREFER_WAIT_MAX_SECONDS } from "../../config/constants.ts";
import { jobGone, jobNotFound } from "../../errors/api-error.ts";
import { preferWaitSeconds } from "../../http/prefer-wait.ts";
import { stubOf } from "./job-stub.ts";

/**
 * `GET /v1/generations/:id`: the job's view. With `Prefer: wait=N` (as on create) the answer waits up to N
 * seconds for the job to end and says so in `Preference-Applied`, so a client waits with one request a minute
 * instead of polling.
 */
export async function getGeneration(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const { tenantId } = c.var.caller;
  const stub = stubOf(c, id);
  const waitSeconds = preferWaitSeconds(c.req.header("Prefer"), PREFER_WAIT_MAX_SECONDS);
  let view = await stub.view(tenantId);
  if (view !== null && view !== "gone" && waitSeconds > 0 && !isTerminalJobStatus(view.status)) {
    view = (await stub.waitForTerminal(tenantId, waitSeconds * 1_000)) ?? view;
  }
  if (view === null) throw jobNotFound(id);
  if (view === "gone") throw jobGone(id);
  return c.json(view, 200, waitSeconds > 0 ? { "Preference-Applied": `wait=${waitSeconds}` } : {});
}
