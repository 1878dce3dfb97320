import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";

/** The response header (and accepted request header) naming one request end to end. */
export const REQUEST_ID_HEADER = "x-request-id";
/** A caller's own id is kept when it is this plain and this short; anything else is replaced. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function mintRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `req_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Every response carries `x-request-id`: the caller's when it sent a plain one (so a client's own tracing id
 * follows its request), else one minted here. Handlers read it from `c.var.requestId` (the job keeps the id
 * of the request that created it, so one grep follows a job from create to its last block).
 */
export function requestId() {
  return createMiddleware<AppEnv>(async function requestId(c, next) {
    const offered = c.req.header(REQUEST_ID_HEADER);
    const id = offered !== undefined && CALLER_REQUEST_ID.test(offered) ? offered : mintRequestId();
    c.set("requestId", id);
    await next();
    try {
      c.res.headers.set(REQUEST_ID_HEADER, id);
    } catch {
      // A response passed through from a subrequest (the job object's stream) has immutable headers.
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set(REQUEST_ID_HEADER, id);
    }
  });
}
