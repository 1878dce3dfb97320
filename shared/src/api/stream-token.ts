import { z } from "zod";

/** `POST /v1/generations/:id/stream-token`: a token for the stream routes of one generation, for minutes. */
export const StreamTokenSchema = z.strictObject({
  object: z.literal("stream_token"),
  token: z.string(),
  expires_at: z.string(),
  urls: z.strictObject({ stream: z.string(), text: z.string() }),
});
export type StreamToken = z.infer<typeof StreamTokenSchema>;
