import { API_KEY_ROTATE_OVERLAP_SECONDS_DEFAULT, API_KEY_ROTATE_OVERLAP_SECONDS_MAX } from "@bd3-serve/shared";
import { error, json } from "./operations.ts";

/** An admin-scoped key (OpenAPI 3.1 lets a bearer scheme list the roles an operation needs). */
const ADMIN = [{ apiKey: ["admin"] }];
const KEY_ID = { name: "id", in: "path", required: true, schema: { type: "string" } };
const ADMIN_ERRORS = {
  "401": error("missing, invalid, revoked or expired API key"),
  "403": error("the API key lacks the admin scope (permission_error, code missing_scope)"),
  "429": error("rate limited; see Retry-After"),
};

const COUNT = { type: "integer", minimum: 0 };
const counts = (outcomes: string[]) => ({
  type: "object",
  required: outcomes,
  properties: Object.fromEntries(outcomes.map((outcome) => [outcome, COUNT])),
});

/** `GET /v1/admin/metrics`: this isolate's counters (observability/metrics.ts), every outcome listed. */
const METRICS_SCHEMA = {
  type: "object",
  required: ["object", "scope", "since", "generations_created", "responses", "queue_sends", "webhook_deliveries"],
  properties: {
    object: { const: "metrics" },
    scope: { const: "isolate", description: "counts of the isolate that answered, since it started counting" },
    since: { type: ["string", "null"], format: "date-time", description: "this isolate's first count" },
    generations_created: counts(["created"]),
    responses: counts(["2xx", "3xx", "4xx", "5xx"]),
    queue_sends: counts(["ok", "failed"]),
    webhook_deliveries: counts(["succeeded", "retrying", "failed", "gave_up"]),
  },
};

/**
 * The admin paths (issue 17): API keys managed at run time, stored hashed in the key directory, and the
 * operator counts.
 */
export function adminOperations(): Record<string, unknown> {
  return {
    "/v1/admin/metrics": {
      get: {
        summary:
          "Operator counts of the answering isolate: creates, responses by status class, SQS sends, webhook deliveries",
        description:
          "Per isolate: zero when the isolate starts, and the sends and deliveries made inside job objects appear " +
          "only when the object ran in this isolate. The totals are in Workers Analytics Engine (the METRICS " +
          "dataset), one data point per event: blob1 counter, blob2 outcome, blob3 detail, double1 1, double2 " +
          "duration_ms (responses), index1 tenant.",
        security: ADMIN,
        responses: {
          "200": { description: "the counters", content: { "application/json": { schema: METRICS_SCHEMA } } },
          ...ADMIN_ERRORS,
        },
      },
    },
    "/v1/admin/keys": {
      post: {
        summary: "Create an API key for a tenant; the plain key is in this answer only (`key`)",
        description:
          "`priority_max` (0-2, optional) caps the `priority` creates with the key may ask for: above it a create " +
          "is a 403 (param priority, code priority_not_allowed), and a create that names none gets the lower of " +
          "normal and the cap; without it, any priority. A key's views carry `priority_max` only when it is set.",
        security: ADMIN,
        requestBody: { required: true, content: json("CreateApiKeyRequest") },
        responses: {
          "201": { description: "the key, shown this once", content: json("CreatedApiKey") },
          "400": error("invalid body: param names the field (expires_at must be in the future, priority_max 0-2)"),
          ...ADMIN_ERRORS,
        },
      },
      get: {
        summary: "List keys (oldest first), of one tenant or all; never the key or its hash",
        security: ADMIN,
        parameters: [
          { name: "tenant_id", in: "query", schema: { type: "string" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100 } },
          { name: "cursor", in: "query", schema: { type: "string" } },
        ],
        responses: {
          "200": { description: "a page", content: json("ApiKeyList") },
          "400": error("invalid tenant_id, limit or cursor"),
          ...ADMIN_ERRORS,
        },
      },
    },
    "/v1/admin/keys/{id}/revoke": {
      post: {
        summary: "Revoke a key (idempotent): refused at once by this isolate, everywhere within 30 s",
        security: ADMIN,
        parameters: [KEY_ID],
        responses: {
          "200": { description: "the revoked key", content: json("ApiKey") },
          "404": error("no such key (API_KEYS entries are not listed here: remove the entry)"),
          ...ADMIN_ERRORS,
        },
      },
    },
    "/v1/admin/keys/{id}/rotate": {
      post: {
        summary: `Mint a new key with the same tenant, name, scopes, priority_max and expiry; the old one ends after overlap_seconds (default ${API_KEY_ROTATE_OVERLAP_SECONDS_DEFAULT}, at most ${API_KEY_ROTATE_OVERLAP_SECONDS_MAX})`,
        security: ADMIN,
        parameters: [KEY_ID],
        requestBody: { required: false, content: json("RotateApiKeyRequest") },
        responses: {
          "201": {
            description: "the new key (shown once) and the old one's new expiry",
            content: json("ApiKeyRotation"),
          },
          "400": error("invalid overlap_seconds"),
          "404": error("no such key"),
          "409": error("the key is revoked or expired (code key_revoked, key_expired): create a new one"),
          ...ADMIN_ERRORS,
        },
      },
    },
  };
}
