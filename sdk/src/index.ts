export type {
  ApiKey,
  ApiKeyList,
  ApiKeyRotation,
  ApiKeyScope,
  Block,
  BlockPage,
  CreateApiKeyRequestInput,
  CreatedApiKey,
  CreateGenerationRequestInput,
  JobListPage,
  JobStatus,
  JobSummary,
  JobView,
  WebhookEvent,
} from "@bd3-serve/shared";
export { API_KEY_SCOPES, isTerminalJobStatus } from "@bd3-serve/shared";
export { AdminKeys, type ListKeysOptions, type RotateKeyOptions } from "./admin-keys.ts";
export {
  Bd3Client,
  type Bd3ClientOptions,
  type BlocksOptions,
  type CreateGenerationOptions,
  type ListOptions,
  type RequestOptions,
} from "./client.ts";
export * from "./errors.ts";
export type { BackoffOptions } from "./http/backoff.ts";
export type { FetchLike } from "./http/transport.ts";
export { type SseComment, type SseItem, type SseMessage, SseParser, type SseRetry } from "./sse/parser.ts";
export { readSse } from "./sse/read-sse.ts";
export type { StreamEvent, StreamOptions } from "./stream/block-stream.ts";
export type { WaitOptions } from "./wait.ts";
export {
  type VerifyWebhookInput,
  verifyWebhook,
  verifyWebhookSignature,
  WEBHOOK_TOLERANCE_SECONDS,
  type WebhookHeaders,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "./webhooks/verify.ts";
