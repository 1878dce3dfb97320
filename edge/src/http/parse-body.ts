import type { Context } from "hono";
import type { z } from "zod";
import { invalidRequest } from "../errors/api-error.ts";

/** The dotted path of a zod issue, naming the unknown key itself for strict-object errors. */
export function issueParam(issue: z.core.$ZodIssue): string | undefined {
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  return path.length > 0 ? path.join(".") : undefined;
}

/** Validates a value with a schema; the first issue becomes a 400 naming its field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, paramPrefix?: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const inner = issue ? issueParam(issue) : undefined;
  const param = [paramPrefix, inner].filter((part) => part !== undefined).join(".") || undefined;
  const message = issue ? `${param ? `${param}: ` : ""}${issue.message}` : "invalid value";
  throw invalidRequest(message, param, parsed.error);
}

/** Reads the JSON body (an empty body counts as `{}`) and validates it. */
export async function parseJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let json: unknown = {};
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw invalidRequest("request body is not valid JSON", undefined, error);
    }
  }
  return parseWith(schema, json);
}
