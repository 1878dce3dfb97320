import type { Env } from "../env.ts";

/** The one object behind every dev stream (null when this deployment has no DEV_STREAMS binding). */
export function devStreamsStub(env: Env) {
  const namespace = env.DEV_STREAMS;
  return namespace === undefined ? null : namespace.get(namespace.idFromName("dev-streams"));
}
