import type { ApiKey } from "@bd3-serve/shared";
import { sha256Hex, toBase64Url, toHex } from "../auth/crypto.ts";
import type { KeyRow } from "./key-directory-rpc.ts";

/** Every minted key starts with this; the visible prefix is the first KEY_PREFIX_LENGTH characters. */
export const KEY_MARK = "bd3_live_";
/** `bd3_live_` and four characters of the random part: enough to tell keys apart in a list, useless to guess. */
export const KEY_PREFIX_LENGTH = KEY_MARK.length + 4;

export interface MintedKey {
  id: string;
  /** The plain key: shown once, never stored. */
  key: string;
  sha256: string;
  prefix: string;
}

/** A new key: 32 random bytes (256 bits) base64url after the mark, and a random id. */
export async function mintKey(): Promise<MintedKey> {
  const key = `${KEY_MARK}${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
  return {
    id: `key_${toHex(crypto.getRandomValues(new Uint8Array(12)))}`,
    key,
    sha256: await sha256Hex(key),
    prefix: key.slice(0, KEY_PREFIX_LENGTH),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A directory row as the admin API shows it: never the hash; `priority_max` only when the key has one. */
export function keyView(row: KeyRow): ApiKey {
  return {
    object: "api_key",
    id: row.id,
    prefix: row.prefix,
    name: row.name,
    tenant_id: row.tenantId,
    scopes: row.scopes,
    created_at: new Date(row.createdAt).toISOString(),
    expires_at: iso(row.expiresAt),
    last_used_at: iso(row.lastUsedAt),
    revoked_at: iso(row.revokedAt),
    ...(row.priorityMax === null ? {} : { priority_max: row.priorityMax }),
  };
}
