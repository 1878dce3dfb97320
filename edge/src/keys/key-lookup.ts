import type { Env } from "../env.ts";
import { KeyLookupCache, UseThrottle } from "./key-cache.ts";
import { LAST_USED_RESOLUTION_MS } from "./key-directory.ts";
import type { KeyRow } from "./key-directory-rpc.ts";
import { keyDirectoryStub } from "./key-directory-stub.ts";

/**
 * The edge's side of the key directory: a cached lookup by hash, the local invalidation the admin routes
 * call after a change, and the background `last_used_at` write. State: this isolate's lookup cache and use
 * throttle (key-cache.ts), both bounded.
 */
const lookups = new KeyLookupCache<KeyRow>();
const uses = new UseThrottle(LAST_USED_RESOLUTION_MS);

/** The directory's row for this hash (cached up to KEY_CACHE_TTL_MS, misses too), or null. */
export async function lookupManagedKey(env: Env, sha256: string, nowMs = Date.now()): Promise<KeyRow | null> {
  const cached = lookups.get(sha256, nowMs);
  if (cached.isHit) return cached.value;
  const row = await keyDirectoryStub(env).lookup(sha256);
  lookups.set(sha256, row, nowMs);
  return row;
}

/** Drops this isolate's cached lookup of a key that just changed (revoked, rotated, created). */
export function forgetManagedKey(sha256: string): void {
  lookups.delete(sha256);
}

/**
 * Writes `last_used_at` in the background (waitUntil), at most once a minute per key from this isolate; a
 * failure is logged and dropped: a use is never refused or slowed for it.
 */
export function recordUse(env: Env, waitUntil: (promise: Promise<unknown>) => void, keyId: string, nowMs = Date.now()) {
  if (!uses.shouldWrite(keyId, nowMs)) return;
  waitUntil(
    keyDirectoryStub(env)
      .touch(keyId, nowMs)
      .catch((error: unknown) => {
        console.error(JSON.stringify({ event: "key_touch_failed", key_id: keyId, error: String(error) }));
      }),
  );
}
