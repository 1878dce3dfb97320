import { z } from "zod";
import { PrioritySchema } from "./create-generation.ts";
import { IdSchema, TimestampSchema } from "./ids.ts";

/**
 * API keys managed at run time (`/v1/admin/keys`, an `admin`-scoped key). The plain key is shown once, in
 * the create (and rotate) answer; every other answer carries only its id and visible prefix.
 */
export const API_KEY_SCOPES = ["generations:write", "generations:read", "admin"] as const;
export const ApiKeyScopeSchema = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof ApiKeyScopeSchema>;

/** What a key may do when its record names no scopes (API_KEYS entries written before scopes existed). */
export const API_KEY_DEFAULT_SCOPES: readonly ApiKeyScope[] = ["generations:write", "generations:read"];

export const API_KEY_NAME_MAX_LENGTH = 100;
/** A rotation's overlap: both keys work for a day by default, at most a week; 0 retires the old one at once. */
export const API_KEY_ROTATE_OVERLAP_SECONDS_DEFAULT = 86_400;
export const API_KEY_ROTATE_OVERLAP_SECONDS_MAX = 7 * 86_400;
export const API_KEY_LIST_LIMIT_DEFAULT = 100;
export const API_KEY_LIST_LIMIT_MAX = 100;

/** Edge-minted ids are `key_` + 24 lowercase hex digits; API_KEYS entries may use any IdSchema id. */
export const ApiKeyIdSchema = IdSchema;

const ScopesSchema = z
  .array(ApiKeyScopeSchema)
  .min(1, { message: "scopes must name at least one scope" })
  .max(API_KEY_SCOPES.length)
  .refine((scopes) => new Set(scopes).size === scopes.length, { message: "scopes must not repeat a scope" });

/** `POST /v1/admin/keys`. */
export const CreateApiKeyRequestSchema = z.strictObject({
  tenant_id: IdSchema,
  name: z.string().trim().min(1).max(API_KEY_NAME_MAX_LENGTH),
  scopes: ScopesSchema,
  /** When the key stops working (must be in the future); none: until revoked. */
  expires_at: TimestampSchema.optional(),
  /**
   * The highest `priority` a create with this key may ask for (0 low, 1 normal, 2 high); none: any. Kept by a
   * rotation, like the scopes.
   */
  priority_max: PrioritySchema.optional(),
});
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequestSchema>;
export type CreateApiKeyRequestInput = z.input<typeof CreateApiKeyRequestSchema>;

/** `POST /v1/admin/keys/:id/rotate`: the old key keeps working for `overlap_seconds` more. */
export const RotateApiKeyRequestSchema = z.strictObject({
  overlap_seconds: z
    .int()
    .min(0)
    .max(API_KEY_ROTATE_OVERLAP_SECONDS_MAX)
    .default(API_KEY_ROTATE_OVERLAP_SECONDS_DEFAULT),
});
export type RotateApiKeyRequest = z.infer<typeof RotateApiKeyRequestSchema>;
export type RotateApiKeyRequestInput = z.input<typeof RotateApiKeyRequestSchema>;

/** `POST /v1/admin/keys/:id/revoke`: no fields (an empty body or `{}`). */
export const RevokeApiKeyRequestSchema = z.strictObject({});

/**
 * A key as listed: never the key itself nor its hash. `priority_max` is there only when the key has a ceiling,
 * so keys without one read exactly as before the field (an SDK that predates it parses strictly).
 */
export const ApiKeySchema = z.strictObject({
  object: z.literal("api_key"),
  id: ApiKeyIdSchema,
  /** The key's first characters (`bd3_live_ab12`), to recognise it in a list. */
  prefix: z.string(),
  name: z.string(),
  tenant_id: IdSchema,
  scopes: z.array(ApiKeyScopeSchema),
  created_at: TimestampSchema,
  expires_at: TimestampSchema.nullable(),
  /** Updated at most once a minute, in the background. */
  last_used_at: TimestampSchema.nullable(),
  revoked_at: TimestampSchema.nullable(),
  /** The key's ceiling on `priority`; absent: none. */
  priority_max: PrioritySchema.optional(),
});
export type ApiKey = z.infer<typeof ApiKeySchema>;

/** The create answer: the key's view plus the plain `key`, shown this once. */
export const CreatedApiKeySchema = z.strictObject({ ...ApiKeySchema.shape, key: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>;

/** The rotate answer: the new key (shown once) and the old one with its new `expires_at`. */
export const ApiKeyRotationSchema = z.strictObject({
  object: z.literal("api_key_rotation"),
  new_key: CreatedApiKeySchema,
  old_key: ApiKeySchema,
});
export type ApiKeyRotation = z.infer<typeof ApiKeyRotationSchema>;

/** `GET /v1/admin/keys?tenant_id=&limit=&cursor=`: oldest first; pass `next_cursor` back as `cursor`. */
export const ApiKeyListSchema = z.strictObject({
  object: z.literal("list"),
  data: z.array(ApiKeySchema),
  has_more: z.boolean(),
  next_cursor: z.string().nullable(),
});
export type ApiKeyList = z.infer<typeof ApiKeyListSchema>;
