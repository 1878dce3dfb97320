import type { WebhookSecretState } from "./tenant-index-rpc.ts";

/**
 * Which webhook signing secrets a tenant's deliveries carry, kept in the tenant's Durable Object, so one
 * tenant rotates its secret alone.
 *
 * Storage: one row `webhook_secret(generation, previous_generation, previous_expires_at)`. The secrets
 * themselves are never stored: generation g's secret is derived from the edge's master secret
 * (webhooks/signing.ts), and generation 0 is the secret every tenant had before rotation existed, so
 * receivers configured earlier keep verifying. A rotation moves to g+1 and keeps g valid until
 * `previous_expires_at`: during that overlap every delivery is signed with both (Standard Webhooks allows
 * several signatures in one header), so a receiver can switch to the new secret at any moment of it.
 */
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS webhook_secret (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL,
  previous_generation INTEGER,
  previous_expires_at INTEGER
);`;

/** Re-exported: the webhooks and routes that read the state import it from its concern. */
export type { WebhookSecretState } from "./tenant-index-rpc.ts";

export class TenantWebhookSecrets {
  private isReady = false;

  constructor(private readonly sql: SqlStorage) {}

  private ready(): void {
    if (this.isReady) return;
    this.sql.exec(SCHEMA_SQL);
    this.isReady = true;
  }

  state(nowMs: number): WebhookSecretState {
    this.ready();
    const row = this.sql
      .exec<{ generation: number; previous_generation: number | null; previous_expires_at: number | null }>(
        "SELECT generation, previous_generation, previous_expires_at FROM webhook_secret WHERE id = 1",
      )
      .toArray()[0];
    if (row === undefined) return { generation: 0, previous: null };
    const isOverlapping =
      row.previous_generation !== null && row.previous_expires_at !== null && row.previous_expires_at > nowMs;
    return {
      generation: row.generation,
      previous: isOverlapping ? { generation: row.previous_generation!, expiresAtMs: row.previous_expires_at! } : null,
    };
  }

  /** Moves to the next generation; the current one stays valid for `overlapMs` (0: retired at once). */
  rotate(overlapMs: number, nowMs: number): WebhookSecretState {
    const { generation } = this.state(nowMs);
    this.sql.exec(
      `INSERT INTO webhook_secret (id, generation, previous_generation, previous_expires_at) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET generation = excluded.generation,
         previous_generation = excluded.previous_generation, previous_expires_at = excluded.previous_expires_at`,
      generation + 1,
      generation,
      nowMs + overlapMs,
    );
    return this.state(nowMs);
  }
}
