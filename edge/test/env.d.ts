import type { ClassBoundEnv as EdgeEnv } from "../src/bindings-conformance.ts";

/** `env` and `exports` from "cloudflare:workers" in tests: the edge's bindings and its main module. */
declare global {
  namespace Cloudflare {
    interface Env extends EdgeEnv {}
    interface GlobalProps {
      mainModule: typeof import("../src/worker.ts");
    }
  }
}

/**
 * The objects' classes take the edge's Env, whose namespaces are typed by RPC interfaces, while the tests'
 * `env` types them by the classes (ClassBoundEnv), so a class without a fetch handler no longer matches the
 * library's `DurableObject<Cloudflare.Env>` bound. Any Durable Object class is what the function runs in.
 */
declare module "cloudflare:test" {
  export function runInDurableObject<O extends Rpc.DurableObjectBranded, R>(
    stub: DurableObjectStub<O>,
    callback: (instance: O, state: DurableObjectState) => R | Promise<R>,
  ): Promise<R>;
}
