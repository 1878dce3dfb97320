/**
 * `client.admin.keys`: API keys managed at run time (`/v1/admin/keys`), for a client holding an `admin`-scoped
 * key. Stateless beyond the client's Transport. Answers are validated with the shared schemas the edge answers
 * with. `create` and `rotate` are not retried (no idempotency key protects them: a retry after a lost answer
 * would mint a second key); `list` and `revoke` (idempotent) are.
 */
import {
  type ApiKey,
  type ApiKeyList,
  ApiKeyListSchema,
  type ApiKeyRotation,
  ApiKeyRotationSchema,
  ApiKeySchema,
  type CreateApiKeyRequestInput,
  type CreatedApiKey,
  CreatedApiKeySchema,
  type RotateApiKeyRequestInput,
} from "@bd3-serve/shared";
import type { Transport } from "./http/transport.ts";
import { allPages } from "./pages.ts";
import type { RequestOptions } from "./request-options.ts";

export interface ListKeysOptions extends RequestOptions {
  /** Only this tenant's keys (default: every tenant's). */
  tenantId?: string;
  /** Page size (1..100). */
  limit?: number;
}

export interface RotateKeyOptions extends RequestOptions {
  /** How long the old key keeps working, in seconds (default a day, at most a week; 0: it ends now). */
  overlapSeconds?: number;
}

export class AdminKeys {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /**
   * `POST /v1/admin/keys`: the new key, with the plain `key` shown this once. `priority_max` caps the priority
   * its creates may ask for (a rotation keeps it).
   */
  async create(body: CreateApiKeyRequestInput, options: RequestOptions = {}): Promise<CreatedApiKey> {
    const { data } = await this.#transport.request(
      { method: "POST", path: "/v1/admin/keys", body, signal: options.signal, maxRetries: 0 },
      CreatedApiKeySchema,
    );
    return data;
  }

  /** One page of `GET /v1/admin/keys` (oldest first); pass `next_cursor` back as `cursor`. */
  async listPage(options: ListKeysOptions & { cursor?: string } = {}): Promise<ApiKeyList> {
    const { data } = await this.#transport.request(
      {
        method: "GET",
        path: "/v1/admin/keys",
        query: { tenant_id: options.tenantId, limit: options.limit, cursor: options.cursor },
        signal: options.signal,
      },
      ApiKeyListSchema,
    );
    return data;
  }

  /** Every key (oldest first), fetching pages as the iteration goes. */
  async *list(options: ListKeysOptions = {}): AsyncGenerator<ApiKey, void, undefined> {
    yield* allPages((cursor) => this.listPage({ ...options, ...(cursor === undefined ? {} : { cursor }) }));
  }

  /** `POST /v1/admin/keys/:id/revoke` (idempotent). */
  async revoke(id: string, options: RequestOptions = {}): Promise<ApiKey> {
    const { data } = await this.#transport.request(
      { method: "POST", path: `${keyPath(id)}/revoke`, body: {}, signal: options.signal },
      ApiKeySchema,
    );
    return data;
  }

  /** `POST /v1/admin/keys/:id/rotate`: the new key (plain `key` shown once) and the old one's new expiry. */
  async rotate(id: string, options: RotateKeyOptions = {}): Promise<ApiKeyRotation> {
    const body: RotateApiKeyRequestInput =
      options.overlapSeconds === undefined ? {} : { overlap_seconds: options.overlapSeconds };
    const { data } = await this.#transport.request(
      { method: "POST", path: `${keyPath(id)}/rotate`, body, signal: options.signal, maxRetries: 0 },
      ApiKeyRotationSchema,
    );
    return data;
  }
}

function keyPath(id: string): string {
  return `/v1/admin/keys/${encodeURIComponent(id)}`;
}
