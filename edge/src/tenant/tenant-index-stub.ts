import type { Env } from "../env.ts";

/** The index object of a tenant: one per tenant id. */
export function tenantIndexStub(env: Env, tenantId: string) {
  return env.TENANTS.get(env.TENANTS.idFromName(`tenant:${tenantId}`));
}
