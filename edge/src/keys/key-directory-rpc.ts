import type { ApiKeyScope } from "@bd3-serve/shared";

/**
 * What the edge may call on the key directory through its stub (env.ts types `KEYS` by this, not by the
 * class): the lookup and use record of the auth middleware (key-lookup.ts) and the admin routes' create,
 * list, revoke and rotate. The shapes of its arguments and answers are declared here too, a leaf of types
 * that imports no class; KeyDirectory (key-directory.ts) takes them from here, and bindings-conformance.ts
 * fails the build if its methods drift from this interface.
 */
export interface KeyDirectoryRpc extends Rpc.DurableObjectBranded {
  /** The key with this SHA-256 (revoked and expired ones too: the caller decides), or null. */
  lookup(sha256: string): KeyRow | null;
  create(key: NewKey): KeyRow;
  list(request: KeyListRequest): KeyPage;
  /** Revokes a key (idempotent); null when there is no such key. */
  revoke(id: string): KeyRow | null;
  /** Mints `next` with the policy of `id` and ends the old key `overlapMs` from now (or sooner). */
  rotate(id: string, next: Pick<NewKey, "id" | "sha256" | "prefix">, overlapMs: number): RotateResult;
  /** Records a use (a no-op within the resolution of `last_used_at`). */
  touch(id: string, atMs: number): void;
}

/** One stored key: times in epoch ms; never the plain key. */
export interface KeyRow {
  seq: number;
  id: string;
  sha256: string;
  prefix: string;
  name: string;
  tenantId: string;
  scopes: ApiKeyScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** The highest `priority` the key may ask for; null: any (routes/generations/priority.ts). */
  priorityMax: number | null;
}

/** What the edge hands over to store a new key (no plain key). */
export interface NewKey {
  id: string;
  sha256: string;
  prefix: string;
  name: string;
  tenantId: string;
  scopes: ApiKeyScope[];
  expiresAt: number | null;
  /** Absent or null: no ceiling. */
  priorityMax?: number | null;
}

export interface KeyListRequest {
  /** Null: every tenant's keys. */
  tenantId: string | null;
  afterSeq: number;
  limit: number;
}

export interface KeyPage {
  rows: KeyRow[];
  /** Pass back as `afterSeq` for the next page; null on the last. */
  nextAfterSeq: number | null;
}

export type RotateResult = { created: KeyRow; previous: KeyRow } | "not_found" | "revoked" | "expired";
