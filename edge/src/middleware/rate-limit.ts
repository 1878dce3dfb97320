import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../errors/api-error.ts";

/** Window of the fallback limiter and of the bindings (`simple.period` in wrangler.toml), in seconds. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/**
 * Fixed-window counter per isolate (state: a count per key, all cleared when the window turns): stands in for
 * a missing rate limit binding, and counts per-key ceilings, which the binding cannot express.
 */
export class FallbackLimiter {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();

  take(key: string, limit: number, nowMs: number): boolean {
    const window = Math.floor(nowMs / (RATE_LIMIT_PERIOD_SECONDS * 1_000));
    if (window !== this.windowStart) {
      this.windowStart = window;
      this.counts.clear();
    }
    const count = this.counts.get(key) ?? 0;
    if (count >= limit) return false;
    this.counts.set(key, count + 1);
    return true;
  }
}

const warnedFallbacks = new Set<string>();

/**
 * One token from a Workers rate limit binding, or from the per-isolate fallback when the binding is missing
 * (some local setups; said once in the log). The binding counts per Cloudflare location and is eventually
 * consistent, so it caps abuse rather than metering exactly; if the binding itself errors the request is let
 * through (logged): the limiter's own failure must not take the API down.
 */
export async function takeToken(
  binding: RateLimit | undefined,
  fallback: { limiter: FallbackLimiter; limit: number; name: string },
  key: string,
): Promise<boolean> {
  if (binding) {
    try {
      return (await binding.limit({ key })).success;
    } catch (error) {
      console.error(JSON.stringify({ event: "rate_limit_unavailable", limiter: fallback.name, error: String(error) }));
      return true;
    }
  }
  if (!warnedFallbacks.has(fallback.name)) {
    warnedFallbacks.add(fallback.name);
    console.warn(JSON.stringify({ event: "rate_limit_fallback", reason: `${fallback.name} binding missing` }));
  }
  return fallback.limiter.take(key, fallback.limit, Date.now());
}

/** Seconds to the end of the current window (at least 1), for `Retry-After`. */
export function retryAfterSeconds(nowMs = Date.now()): number {
  return Math.max(1, RATE_LIMIT_PERIOD_SECONDS - Math.floor((nowMs / 1_000) % RATE_LIMIT_PERIOD_SECONDS));
}

/**
 * The rate limit of the public API, per tenant: every key of a tenant draws on one bucket
 * (`RATE_LIMITER`, keyed `tenant:<id>`), so minting more keys buys no more requests. Over it: 429 with
 * `Retry-After`.
 *
 * A key may also carry its own lower ceiling (`rate_limit_per_minute` in API_KEYS, e.g. for a CI key). The
 * binding's limit is fixed per namespace in wrangler.toml, so a per-key number cannot go through it: the
 * ceiling is a fixed window counted in this isolate (state: one counter per key, reset each window), checked
 * first so a key over its ceiling spends none of its tenant's bucket. It holds per isolate; the tenant's
 * bucket bounds the total.
 */
export function rateLimit() {
  const limiter = new FallbackLimiter();
  const keyCeilings = new FallbackLimiter();
  return createMiddleware<AppEnv>(async function rateLimit(c, next) {
    const { keyId, keyRateLimitPerMinute } = c.var.caller;
    if (keyRateLimitPerMinute !== null && !keyCeilings.take(`key:${keyId}`, keyRateLimitPerMinute, Date.now())) {
      throw new ApiError(429, "rate_limit_error", `too many requests for this API key (${keyRateLimitPerMinute}/min)`, {
        headers: { "Retry-After": String(retryAfterSeconds()) },
      });
    }
    const fallback = { limiter, limit: c.var.config.rateLimitFallbackPerMinute, name: "RATE_LIMITER" };
    const isAllowed = await takeToken(c.env.RATE_LIMITER, fallback, `tenant:${c.var.caller.tenantId}`);
    if (!isAllowed) {
      throw new ApiError(429, "rate_limit_error", "too many requests for this tenant", {
        headers: { "Retry-After": String(retryAfterSeconds()) },
      });
    }
    await next();
  });
}
