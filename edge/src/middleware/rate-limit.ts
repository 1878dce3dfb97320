import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../errors/api-error.ts";

/** Window of the fallback limiter and of the binding (`simple.period` in wrangler.toml), in seconds. */
const PERIOD_SECONDS = 60;

/** Fixed-window counter per isolate, used only when the RATE_LIMITER binding is missing. */
class FallbackLimiter {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();

  take(key: string, limit: number, nowMs: number): boolean {
    const window = Math.floor(nowMs / (PERIOD_SECONDS * 1_000));
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

let warnedFallback = false;

/**
 * Per API key rate limit through the Workers rate limit binding (`RATE_LIMITER`), answering 429 with
 * `Retry-After` (seconds to the end of the current window). The binding counts per Cloudflare location and
 * is eventually consistent, so it caps abuse rather than metering exactly; if the binding itself errors the
 * request is let through (logged). Without the binding (some local setups) a per-isolate fixed window
 * stands in and says so once in the log.
 */
export function rateLimit({ periodSeconds = PERIOD_SECONDS }: { periodSeconds?: number } = {}) {
  const fallback = new FallbackLimiter();
  return createMiddleware<AppEnv>(async function rateLimit(c, next) {
    const key = c.var.caller.keyId;
    let allowed: boolean;
    if (c.env.RATE_LIMITER) {
      try {
        allowed = (await c.env.RATE_LIMITER.limit({ key })).success;
      } catch (error) {
        // The limiter caps abuse; its own failure must not take the API down, so it fails open (logged).
        console.error(JSON.stringify({ event: "rate_limit_unavailable", error: String(error) }));
        allowed = true;
      }
    } else {
      if (!warnedFallback) {
        warnedFallback = true;
        console.warn(JSON.stringify({ event: "rate_limit_fallback", reason: "RATE_LIMITER binding missing" }));
      }
      allowed = fallback.take(key, c.var.config.rateLimitFallbackPerMinute, Date.now());
    }
    if (!allowed) {
      const retryAfterSeconds = Math.max(1, periodSeconds - Math.floor((Date.now() / 1_000) % periodSeconds));
      throw new ApiError(429, "rate_limit_error", "too many requests for this API key", {
        headers: { "Retry-After": String(retryAfterSeconds) },
      });
    }
    await next();
  });
}
