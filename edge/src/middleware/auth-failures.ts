import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../errors/api-error.ts";
import { FallbackLimiter, RATE_LIMIT_PERIOD_SECONDS, retryAfterSeconds, takeToken } from "./rate-limit.ts";

/**
 * Failed authentications per client address. Every failed attempt takes a token from `AUTH_FAILURE_LIMITER`
 * (keyed by `CF-Connecting-IP`, the address Cloudflare saw); once an address is over its budget its requests
 * get 429 with `Retry-After` until the window ends, and this isolate remembers that, so it refuses the
 * address's next requests before looking any key up (no storage work for a client guessing keys).
 *
 * State: a map of address -> blocked-until (ms) per isolate, pruned when it grows past
 * BLOCKED_ADDRESSES_MAX; other isolates learn it from the binding on the address's next failure.
 */

/** Failed authentications per address per minute when the binding is missing (wrangler.toml: 30). */
export const AUTH_FAILURES_PER_MINUTE_FALLBACK = 30;
/** Addresses remembered as blocked per isolate (bounded memory under a spread-out attack). */
const BLOCKED_ADDRESSES_MAX = 10_000;
/** Requests without CF-Connecting-IP (local development) share one bucket. */
const UNKNOWN_ADDRESS = "unknown";

const fallbackLimiter = new FallbackLimiter();
const blockedUntilMs = new Map<string, number>();

export function clientAddress(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP")?.trim() || UNKNOWN_ADDRESS;
}

function tooManyFailures(untilMs: number): ApiError {
  return new ApiError(429, "rate_limit_error", "too many failed authentications from this address", {
    headers: { "Retry-After": String(Math.max(1, Math.ceil((untilMs - Date.now()) / 1_000))) },
  });
}

/** Throws 429 when this address is over its failure budget (checked before any key lookup). */
export function refuseBlockedAddress(c: Context<AppEnv>): void {
  const address = clientAddress(c);
  const until = blockedUntilMs.get(address);
  if (until === undefined) return;
  if (until > Date.now()) throw tooManyFailures(until);
  blockedUntilMs.delete(address);
}

/** Counts one failed authentication; throws 429 when the address went over its budget. */
export async function countAuthFailure(c: Context<AppEnv>): Promise<void> {
  const address = clientAddress(c);
  const fallback = { limiter: fallbackLimiter, limit: AUTH_FAILURES_PER_MINUTE_FALLBACK, name: "AUTH_FAILURE_LIMITER" };
  if (await takeToken(c.env.AUTH_FAILURE_LIMITER, fallback, `auth-failure:${address}`)) return;
  if (blockedUntilMs.size >= BLOCKED_ADDRESSES_MAX) blockedUntilMs.clear();
  const until = Date.now() + retryAfterSeconds() * 1_000;
  blockedUntilMs.set(address, Math.min(until, Date.now() + RATE_LIMIT_PERIOD_SECONDS * 1_000));
  throw tooManyFailures(until);
}
