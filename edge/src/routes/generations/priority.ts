import { PRIORITY_DEFAULT, PRIORITY_MAX } from "@bd3-serve/shared";
import type { Caller } from "../../auth/api-keys.ts";
import type { ApiKeyRecord, EdgeConfig } from "../../config/config.ts";
import { ApiError } from "../../errors/api-error.ts";

const ceilingCache = new WeakMap<readonly ApiKeyRecord[], Map<string, number>>();

/**
 * The highest priority a caller's key may ask for: its `priority_max` in API_KEYS; PRIORITY_MAX (no ceiling)
 * when the record sets none, and for keys of the run-time key directory (keys/), whose rows carry no ceiling.
 */
export function priorityCeiling(config: EdgeConfig, caller: Caller): number {
  if (caller.isManaged) return PRIORITY_MAX;
  let byKeyId = ceilingCache.get(config.apiKeys);
  if (byKeyId === undefined) {
    byKeyId = new Map(config.apiKeys.map((record) => [record.id, record.priority_max ?? PRIORITY_MAX]));
    ceilingCache.set(config.apiKeys, byKeyId);
  }
  return byKeyId.get(caller.keyId) ?? PRIORITY_MAX;
}

/**
 * The create's priority: as asked, else normal (or the key's ceiling when that is lower, so a key held to low
 * priority needs no field); 403 naming `priority` above the key's ceiling.
 */
export function resolvePriority(config: EdgeConfig, caller: Caller, asked: number | undefined): number {
  const ceiling = priorityCeiling(config, caller);
  const priority = asked ?? Math.min(PRIORITY_DEFAULT, ceiling);
  if (priority > ceiling) {
    throw new ApiError(403, "permission_error", `this API key may ask for priority ${ceiling} at most`, {
      param: "priority",
      code: "priority_not_allowed",
    });
  }
  return priority;
}
