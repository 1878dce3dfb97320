export {
  type AccessServiceToken,
  accessHeaders,
  CF_ACCESS_CLIENT_ID_HEADER,
  CF_ACCESS_CLIENT_SECRET_HEADER,
} from "./access.ts";
export type { BlockStreamOptions, BlockStreamWriter } from "./block-stream.ts";
export { createEdgeClient, type EdgeCallName, type EdgeClient, type EdgeClientOptions } from "./edge-client.ts";
export { EdgeCallError, isEdgeCallError } from "./errors.ts";
export type { BlockStreamReply } from "./producer-fetch.ts";
export { type BackoffPolicy, backoffDelayMs } from "./retry.ts";
