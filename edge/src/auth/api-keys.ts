import { API_KEY_DEFAULT_SCOPES, type ApiKeyScope } from "@bd3-serve/shared";
import type { ApiKeyRecord } from "../config/config.ts";
import type { KeyRow } from "../keys/key-directory-rpc.ts";
import { sha256Hex, timingSafeEqualText } from "./crypto.ts";

/** Who is calling: resolved from the API key, carried on the request context. */
export interface Caller {
  keyId: string;
  tenantId: string;
  /** The key's own ceiling (`rate_limit_per_minute` in API_KEYS), below its tenant's bucket; null: none. */
  keyRateLimitPerMinute: number | null;
  /** What the key may do (middleware/require-scope.ts); a stream token's caller is limited by its route instead. */
  scopes: readonly ApiKeyScope[];
  /** True for a key of the key directory (keys/), whose uses are recorded as `last_used_at`. */
  isManaged: boolean;
  /**
   * The highest `priority` the key may ask for (`priority_max` of its API_KEYS entry or directory row), read
   * with the key so a create needs no second lookup; null: any.
   */
  priorityMax: number | null;
}

/** Why a key that was found is refused (both are a 401). */
export type KeyRefusal = "revoked" | "expired";

/** Where keys come from: the bootstrap list (API_KEYS) and the key directory, looked up by hash. */
export interface KeySources {
  records: readonly ApiKeyRecord[];
  /** The directory's row for a hash (cached), or null; absent: no directory bound. */
  lookupManaged?: (sha256: string) => Promise<KeyRow | null>;
}

const indexCache = new WeakMap<readonly ApiKeyRecord[], Map<string, ApiKeyRecord>>();

function indexByHash(records: readonly ApiKeyRecord[]): Map<string, ApiKeyRecord> {
  let index = indexCache.get(records);
  if (!index) {
    index = new Map(records.map((record) => [record.sha256, record]));
    indexCache.set(records, index);
  }
  return index;
}

/**
 * Looks a presented key up by its SHA-256, first in API_KEYS, then in the key directory: the edge stores and
 * compares only hashes, so a leaked config or directory reveals no key. A plain hash (no salt) is enough
 * because keys are long random strings, not passwords. The stored hash is compared in constant time.
 * A directory key that is revoked, or past its `expires_at` at `nowMs`, is refused.
 */
export async function findCaller(
  sources: KeySources,
  presentedKey: string,
  nowMs = Date.now(),
): Promise<Caller | KeyRefusal | null> {
  const sha256 = await sha256Hex(presentedKey);
  const record = indexByHash(sources.records).get(sha256);
  if (record && timingSafeEqualText(record.sha256, sha256)) {
    return {
      keyId: record.id,
      tenantId: record.tenant_id,
      keyRateLimitPerMinute: record.rate_limit_per_minute ?? null,
      scopes: record.scopes ?? API_KEY_DEFAULT_SCOPES,
      isManaged: false,
      priorityMax: record.priority_max ?? null,
    };
  }
  const row = sources.lookupManaged ? await sources.lookupManaged(sha256) : null;
  if (row === null || !timingSafeEqualText(row.sha256, sha256)) return null;
  if (row.revokedAt !== null) return "revoked";
  if (row.expiresAt !== null && row.expiresAt <= nowMs) return "expired";
  return {
    keyId: row.id,
    tenantId: row.tenantId,
    keyRateLimitPerMinute: null,
    scopes: row.scopes,
    isManaged: true,
    // The directory on the previous version (mid-deploy) answers rows without the field: no ceiling, as before.
    priorityMax: row.priorityMax ?? null,
  };
}
