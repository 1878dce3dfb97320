import type { Env as EdgeEnv } from "../src/env.ts";

/** `env` and `exports` from "cloudflare:workers" in tests: the edge's bindings and its main module. */
declare global {
  namespace Cloudflare {
    interface Env extends EdgeEnv {}
    interface GlobalProps {
      mainModule: typeof import("../src/worker.ts");
    }
  }
}
