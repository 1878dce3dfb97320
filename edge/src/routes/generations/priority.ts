import { PRIORITY_DEFAULT, PRIORITY_MAX } from "@bd3-serve/shared";
import type { Caller } from "../../auth/api-keys.ts";
import { ApiError } from "../../errors/api-error.ts";

/**
 * The highest priority a caller's key may ask for: its `priority_max`, from its API_KEYS entry or its row in
 * the run-time key directory (keys/), both read with the key (auth/api-keys.ts); PRIORITY_MAX when it has none.
 */
export function priorityCeiling(caller: Caller): number {
  return caller.priorityMax ?? PRIORITY_MAX;
}

/**
 * The create's priority: as asked, else normal (or the key's ceiling when that is lower, so a key held to low
 * priority needs no field); 403 naming `priority` above the key's ceiling.
 */
export function resolvePriority(caller: Caller, asked: number | undefined): number {
  const ceiling = priorityCeiling(caller);
  const priority = asked ?? Math.min(PRIORITY_DEFAULT, ceiling);
  if (priority > ceiling) {
    throw new ApiError(403, "permission_error", `this API key may ask for priority ${ceiling} at most`, {
      param: "priority",
      code: "priority_not_allowed",
    });
  }
  return priority;
}
