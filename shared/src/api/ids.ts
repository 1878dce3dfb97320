import { z } from "zod";
import { ID_MAX_LENGTH } from "../limits.ts";

/** Opaque ids (jobs, tenants, deliveries): URL-safe, bounded, never empty. */
export const IdSchema = z
  .string()
  .min(1)
  .max(ID_MAX_LENGTH)
  .regex(/^[A-Za-z0-9_-]+$/, { message: "id must contain only letters, digits, '_' and '-'" });

/** ISO-8601 timestamp in UTC as produced by `Date.prototype.toISOString`. */
export const TimestampSchema = z.iso.datetime();
