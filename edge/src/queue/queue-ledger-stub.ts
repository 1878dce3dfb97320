import type { Env } from "../env.ts";

/** The ledger of one (model, priority) queue (queue-ledger.ts); null where the binding is missing (older configs). */
export function queueLedgerStub(env: Env, model: string, priority: number) {
  const namespace = env.QUEUE_LEDGER as Env["QUEUE_LEDGER"] | undefined;
  if (namespace === undefined) return null;
  return namespace.get(namespace.idFromName(`${model}:${priority}`));
}
