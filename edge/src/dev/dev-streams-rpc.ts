/**
 * What the dev routes call on the one dev streams object through its stub (env.ts types `DEV_STREAMS` by
 * this, not by the class): only its fetch, the generic Durable Streams protocol. DevStreamsObject implements
 * it (bindings-conformance.ts checks that). A leaf of types that imports nothing.
 */
export interface DevStreamsRpc extends Rpc.DurableObjectBranded {
  fetch(request: Request): Promise<Response>;
}
