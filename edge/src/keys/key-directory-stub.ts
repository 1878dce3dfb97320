import type { Env } from "../env.ts";

/** The one key directory of the deployment (key-directory.ts): every run-time key, of every tenant. */
export function keyDirectoryStub(env: Env) {
  return env.KEYS.get(env.KEYS.idFromName("keys"));
}
