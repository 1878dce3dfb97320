import type { Caller } from "./auth/api-keys.ts";
import type { EdgeConfig } from "./config/config.ts";
import type { Env } from "./env.ts";

/** Hono generics of the edge app: the bindings plus what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: { config: EdgeConfig; caller: Caller; requestId: string };
}
