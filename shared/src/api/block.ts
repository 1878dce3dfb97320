import { z } from "zod";
import { BLOCK_TEXT_MAX_BYTES } from "../limits.ts";
import { utf8ByteLength } from "../utf8.ts";

/**
 * A committed block: immutable once appended. Its index is its SSE event id, so `Last-Event-ID` resume is
 * exact. Its text never ends in half a UTF-8 character (the worker detokenizes incrementally).
 */
export const BlockSchema = z.strictObject({
  index: z.int().min(0),
  text: z.string().refine((text) => utf8ByteLength(text) <= BLOCK_TEXT_MAX_BYTES, {
    message: `block text must be at most ${BLOCK_TEXT_MAX_BYTES} UTF-8 bytes`,
  }),
  token_count: z.int().min(0),
});
export type Block = z.infer<typeof BlockSchema>;

/** `GET /v1/generations/:id/blocks?after=N&limit=M`. */
export const BlockPageSchema = z.strictObject({
  object: z.literal("list"),
  data: z.array(BlockSchema),
  has_more: z.boolean(),
  /** Pass as `after` to read the next page; null when the page is empty. */
  next_after: z.int().min(-1).nullable(),
});
export type BlockPage = z.infer<typeof BlockPageSchema>;
