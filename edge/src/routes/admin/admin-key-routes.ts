import {
  API_KEY_LIST_LIMIT_DEFAULT,
  API_KEY_LIST_LIMIT_MAX,
  type ApiKeyList,
  type ApiKeyRotation,
  CreateApiKeyRequestSchema,
  type CreatedApiKey,
  IdSchema,
  RevokeApiKeyRequestSchema,
  RotateApiKeyRequestSchema,
} from "@bd3-serve/shared";
import { Hono } from "hono";
import type { AppEnv } from "../../app-env.ts";
import { PUBLIC_BODY_MAX_BYTES } from "../../config/constants.ts";
import { ApiError, invalidRequest } from "../../errors/api-error.ts";
import { parseJsonBody, parseWith } from "../../http/parse-body.ts";
import { intParam } from "../../http/query.ts";
import { keyDirectoryStub } from "../../keys/key-directory-stub.ts";
import { forgetManagedKey } from "../../keys/key-lookup.ts";
import { keyView, type MintedKey, mintKey } from "../../keys/mint.ts";
import { jsonBody } from "../../middleware/json-only.ts";
import { requireScope } from "../../middleware/require-scope.ts";
import { decodeCursor, encodeCursor } from "../../tenant/cursor.ts";

/** A plain key is in the answer: no cache anywhere may keep it. */
const NO_STORE = { "Cache-Control": "no-store" };

function keyNotFound(id: string): ApiError {
  return new ApiError(404, "not_found_error", `no API key with id '${id.slice(0, 80)}'`, { param: "id" });
}

function created(row: Parameters<typeof keyView>[0], minted: MintedKey): CreatedApiKey {
  return { ...keyView(row), key: minted.key };
}

/**
 * `/v1/admin/keys` (an `admin`-scoped key): create, list, revoke and rotate the keys of any tenant, in the key
 * directory (keys/key-directory.ts). The plain key appears once, in the create or rotate answer; after every
 * change this isolate forgets its cached lookup of the key, and other isolates follow within KEY_CACHE_TTL_MS.
 * API_KEYS entries (the bootstrap keys) are not in the directory: they are not listed and cannot be revoked
 * here (remove the entry instead).
 */
export function adminKeyRoutes() {
  const app = new Hono<AppEnv>();
  app.use("*", requireScope("admin"));
  const body = jsonBody({ maxBytes: PUBLIC_BODY_MAX_BYTES });

  app.post("/keys", ...body, async (c) => {
    const request = await parseJsonBody(c, CreateApiKeyRequestSchema);
    const expiresAt = request.expires_at === undefined ? null : Date.parse(request.expires_at);
    if (expiresAt !== null && expiresAt <= Date.now())
      throw invalidRequest("expires_at must be in the future", "expires_at");
    const minted = await mintKey();
    const row = await keyDirectoryStub(c.env).create({
      id: minted.id,
      sha256: minted.sha256,
      prefix: minted.prefix,
      name: request.name,
      tenantId: request.tenant_id,
      scopes: request.scopes,
      expiresAt,
      priorityMax: request.priority_max ?? null,
    });
    forgetManagedKey(minted.sha256);
    return c.json(created(row, minted), 201, NO_STORE);
  });

  app.get("/keys", async (c) => {
    const rawTenant = c.req.query("tenant_id");
    const tenantId = rawTenant === undefined ? null : parseWith(IdSchema, rawTenant, "tenant_id");
    const limit = intParam(c.req.query("limit"), "limit", {
      min: 1,
      max: API_KEY_LIST_LIMIT_MAX,
      fallback: API_KEY_LIST_LIMIT_DEFAULT,
    });
    const afterSeq = decodeCursor(c.req.query("cursor")) ?? 0;
    const page = await keyDirectoryStub(c.env).list({ tenantId, afterSeq, limit });
    const list: ApiKeyList = {
      object: "list",
      data: page.rows.map(keyView),
      has_more: page.nextAfterSeq !== null,
      next_cursor: page.nextAfterSeq === null ? null : encodeCursor(page.nextAfterSeq),
    };
    return c.json(list);
  });

  app.post("/keys/:id/revoke", ...body, async (c) => {
    const id = c.req.param("id");
    await parseJsonBody(c, RevokeApiKeyRequestSchema);
    const row = await keyDirectoryStub(c.env).revoke(id);
    if (row === null) throw keyNotFound(id);
    forgetManagedKey(row.sha256);
    return c.json(keyView(row));
  });

  app.post("/keys/:id/rotate", ...body, async (c) => {
    const id = c.req.param("id");
    const { overlap_seconds: overlapSeconds } = await parseJsonBody(c, RotateApiKeyRequestSchema);
    const minted = await mintKey();
    const next = { id: minted.id, sha256: minted.sha256, prefix: minted.prefix };
    const result = await keyDirectoryStub(c.env).rotate(id, next, overlapSeconds * 1_000);
    if (result === "not_found") throw keyNotFound(id);
    if (typeof result === "string") {
      throw new ApiError(409, "conflict_error", `API key '${id.slice(0, 80)}' is ${result}: create a new key`, {
        param: "id",
        code: `key_${result}`,
      });
    }
    forgetManagedKey(result.previous.sha256);
    forgetManagedKey(minted.sha256);
    const rotation: ApiKeyRotation = {
      object: "api_key_rotation",
      new_key: created(result.created, minted),
      old_key: keyView(result.previous),
    };
    return c.json(rotation, 201, NO_STORE);
  });

  return app;
}
