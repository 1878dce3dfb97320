/**
 * Isolate-local caches in front of the key directory (state: two bounded maps per isolate, lost with it).
 *
 * `KeyLookupCache` keeps a directory lookup, found or not, for at most KEY_CACHE_TTL_MS. That TTL is the whole
 * revocation bound: the directory is one strongly consistent object, so a revoke is seen by every lookup after
 * it, and an isolate that looked the key up just before keeps the old answer for at most the TTL. The isolate
 * that serves the revoke forgets the key at once. Expiry needs no bound: it is checked on every request
 * against the cached row's `expires_at`.
 *
 * `UseThrottle` decides when a use of a key is worth writing as `last_used_at` (once a minute per key and
 * isolate; the directory drops writes closer than that from other isolates too).
 */

/** How long a lookup (positive or negative) is trusted; a revoked key is refused everywhere within this. */
export const KEY_CACHE_TTL_MS = 30_000;
/** Entries per isolate; the oldest go first (negative entries are attacker-chosen, so the bound matters). */
export const KEY_CACHE_MAX_ENTRIES = 10_000;

export type CacheRead<V> = { isHit: true; value: V | null } | { isHit: false };

export class KeyLookupCache<V> {
  private readonly entries = new Map<string, { value: V | null; expiresAtMs: number }>();

  constructor(
    private readonly ttlMs = KEY_CACHE_TTL_MS,
    private readonly maxEntries = KEY_CACHE_MAX_ENTRIES,
  ) {}

  get(hash: string, nowMs: number): CacheRead<V> {
    const entry = this.entries.get(hash);
    if (entry === undefined) return { isHit: false };
    if (nowMs >= entry.expiresAtMs) {
      this.entries.delete(hash);
      return { isHit: false };
    }
    return { isHit: true, value: entry.value };
  }

  set(hash: string, value: V | null, nowMs: number): void {
    this.entries.delete(hash);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(hash, { value, expiresAtMs: nowMs + this.ttlMs });
  }

  delete(hash: string): void {
    this.entries.delete(hash);
  }

  get size(): number {
    return this.entries.size;
  }
}

export class UseThrottle {
  private readonly lastWrites = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxEntries = KEY_CACHE_MAX_ENTRIES,
  ) {}

  /** True (and remembered) when this key's last write from here is `intervalMs` old or there is none. */
  shouldWrite(keyId: string, nowMs: number): boolean {
    const last = this.lastWrites.get(keyId);
    if (last !== undefined && nowMs - last < this.intervalMs) return false;
    this.lastWrites.delete(keyId);
    if (this.lastWrites.size >= this.maxEntries) {
      const oldest = this.lastWrites.keys().next();
      if (!oldest.done) this.lastWrites.delete(oldest.value);
    }
    this.lastWrites.set(keyId, nowMs);
    return true;
  }
}
