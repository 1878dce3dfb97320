/**
 * Standard Webhooks verification (https://www.standardwebhooks.com), as the edge signs
 * (edge/src/webhooks/signing.ts): HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}` keyed with
 * the secret's bytes (`whsec_` + base64), sent as `v1,<base64>`; during a secret rotation's overlap the
 * `webhook-signature` header carries one such signature per live secret, space separated. Web Crypto only,
 * so it runs in Node 20+, browsers and Workers.
 */
import { type WebhookEvent, WebhookEventSchema } from "@bd3-serve/shared";
import { Bd3Error } from "../errors.ts";
import { base64ToBytes, constantTimeEqual } from "./base64.ts";

/** Seconds a delivery's timestamp may differ from the receiver's clock (either way): 5 minutes. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

const SECRET_PREFIX = "whsec_";

export type WebhookVerificationCode =
  | "missing_headers"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "invalid_secret"
  | "no_matching_signature"
  | "invalid_payload";

export class WebhookVerificationError extends Bd3Error {
  override name = "WebhookVerificationError";
  readonly code: WebhookVerificationCode;

  constructor(code: WebhookVerificationCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A Fetch `Headers`, a Node-style record (any case, arrays for repeated headers), or the three headers alone. */
export type WebhookHeaders =
  | Headers
  | { readonly [name: string]: string | readonly string[] | undefined }
  | { readonly "webhook-id"?: string; readonly "webhook-timestamp"?: string; readonly "webhook-signature"?: string };

export interface VerifyWebhookInput {
  /** The raw request body, exactly as received (not re-serialized JSON). */
  payload: string | Uint8Array | ArrayBuffer;
  headers: WebhookHeaders;
  /** The tenant's secret (`whsec_...`); during a rotation, the new and the previous one (either verifies). */
  secret: string | readonly string[];
  toleranceSeconds?: number;
  /** The receiver's clock (for tests). */
  now?: Date | number;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name) continue;
    if (typeof value === "string") return value;
    if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  }
  return undefined;
}

function payloadBytes(payload: VerifyWebhookInput["payload"]): Uint8Array {
  if (typeof payload === "string") return new TextEncoder().encode(payload);
  return payload instanceof Uint8Array ? payload : new Uint8Array(payload);
}

function secretKeyBytes(secret: string): Uint8Array {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  let key: Uint8Array;
  try {
    key = base64ToBytes(encoded);
  } catch (error) {
    throw new WebhookVerificationError("invalid_secret", "the webhook secret is not whsec_ + base64", { cause: error });
  }
  if (key.byteLength === 0) throw new WebhookVerificationError("invalid_secret", "the webhook secret is empty");
  return key;
}

async function hmacSha256(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, message));
}

/** The `v1` signatures of a `webhook-signature` header, decoded (malformed entries are skipped). */
function v1Signatures(headerValue: string): Uint8Array[] {
  const signatures: Uint8Array[] = [];
  for (const entry of headerValue.trim().split(/\s+/)) {
    const comma = entry.indexOf(",");
    if (comma === -1 || entry.slice(0, comma) !== "v1") continue;
    try {
      signatures.push(base64ToBytes(entry.slice(comma + 1)));
    } catch {
      // not base64: cannot match
    }
  }
  return signatures;
}

/**
 * Checks a delivery's signature and timestamp; throws WebhookVerificationError (with a `code`) when it is
 * not authentic or not fresh. Resolves with nothing: use `verifyWebhook` to get the parsed event too.
 */
export async function verifyWebhookSignature(input: VerifyWebhookInput): Promise<void> {
  const id = header(input.headers, "webhook-id");
  const timestamp = header(input.headers, "webhook-timestamp");
  const signature = header(input.headers, "webhook-signature");
  if (!id || !timestamp || !signature) {
    throw new WebhookVerificationError(
      "missing_headers",
      "webhook-id, webhook-timestamp and webhook-signature are required",
    );
  }
  if (!/^\d{1,15}$/.test(timestamp.trim())) {
    throw new WebhookVerificationError("invalid_timestamp", "webhook-timestamp is not a Unix time in seconds");
  }
  const nowMs = input.now === undefined ? Date.now() : new Date(input.now).getTime();
  const nowSeconds = Math.floor(nowMs / 1_000);
  const sentSeconds = Number(timestamp.trim());
  const tolerance = input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  if (nowSeconds - sentSeconds > tolerance) {
    throw new WebhookVerificationError("timestamp_too_old", "the delivery is older than the tolerance (a replay?)");
  }
  if (sentSeconds - nowSeconds > tolerance) {
    throw new WebhookVerificationError("timestamp_too_new", "the delivery's timestamp is in the future");
  }
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret;
  if (secrets.length === 0) throw new WebhookVerificationError("invalid_secret", "no webhook secret given");
  const prefix = new TextEncoder().encode(`${id}.${timestamp.trim()}.`);
  const body = payloadBytes(input.payload);
  const signed = new Uint8Array(prefix.byteLength + body.byteLength);
  signed.set(prefix, 0);
  signed.set(body, prefix.byteLength);
  const candidates = v1Signatures(signature);
  let isMatch = false;
  for (const secret of secrets) {
    const expected = await hmacSha256(secretKeyBytes(secret), signed);
    for (const candidate of candidates) if (constantTimeEqual(candidate, expected)) isMatch = true;
  }
  if (!isMatch) throw new WebhookVerificationError("no_matching_signature", "no signature matches the secret");
}

/** `verifyWebhookSignature`, then the body parsed and validated as a webhook event. */
export async function verifyWebhook(input: VerifyWebhookInput): Promise<WebhookEvent> {
  await verifyWebhookSignature(input);
  const text =
    typeof input.payload === "string" ? input.payload : new TextDecoder().decode(payloadBytes(input.payload));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new WebhookVerificationError("invalid_payload", "the webhook body is not JSON", { cause: error });
  }
  const parsed = WebhookEventSchema.safeParse(json);
  if (!parsed.success) {
    throw new WebhookVerificationError("invalid_payload", "the webhook body is not a known event", {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
