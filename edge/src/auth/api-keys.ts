import type { ApiKeyRecord } from "../config/config.ts";
import { sha256Hex } from "./crypto.ts";

/** Who is calling: resolved from the API key, carried on the request context. */
export interface Caller {
  keyId: string;
  tenantId: string;
  /** The key's own ceiling (`rate_limit_per_minute` in API_KEYS), below its tenant's bucket; null: none. */
  keyRateLimitPerMinute: number | null;
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
 * Looks a presented key up by its SHA-256: the edge stores and compares only hashes, so a leaked config
 * reveals no key. A plain hash (no salt) is enough because keys are long random strings, not passwords.
 */
export async function findCaller(records: readonly ApiKeyRecord[], presentedKey: string): Promise<Caller | null> {
  const record = indexByHash(records).get(await sha256Hex(presentedKey));
  if (!record) return null;
  return { keyId: record.id, tenantId: record.tenant_id, keyRateLimitPerMinute: record.rate_limit_per_minute ?? null };
}
