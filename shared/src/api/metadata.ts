import { z } from "zod";
import {
  METADATA_KEY_MAX_LENGTH,
  METADATA_MAX_BYTES,
  METADATA_MAX_KEYS,
  METADATA_VALUE_MAX_LENGTH,
} from "../limits.ts";
import { utf8ByteLength } from "../utf8.ts";

/** Client-owned labels stored with the job and echoed in views and webhooks: a flat map of short strings. */
export const MetadataSchema = z
  .record(z.string().min(1).max(METADATA_KEY_MAX_LENGTH), z.string().max(METADATA_VALUE_MAX_LENGTH))
  .refine((metadata) => Object.keys(metadata).length <= METADATA_MAX_KEYS, {
    message: `metadata may have at most ${METADATA_MAX_KEYS} keys`,
  })
  .refine((metadata) => utf8ByteLength(JSON.stringify(metadata)) <= METADATA_MAX_BYTES, {
    message: `metadata must serialize to at most ${METADATA_MAX_BYTES} bytes`,
  });
export type Metadata = z.infer<typeof MetadataSchema>;
