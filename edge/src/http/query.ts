import { invalidRequest } from "../errors/api-error.ts";

/** An optional integer query parameter within [min, max]; anything else is a 400 naming the parameter. */
export function intParam(raw: string | undefined, name: string, { min, max, fallback }: IntRange): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?\d{1,16}$/.test(raw)) throw invalidRequest(`${name} must be an integer`, name);
  const value = Number(raw);
  if (value < min || value > max) throw invalidRequest(`${name} must be between ${min} and ${max}`, name);
  return value;
}

export interface IntRange {
  min: number;
  max: number;
  fallback: number;
}
