import { describe, expect, it } from "vitest";
import {
  nextRetryDelayMs,
  parseRetryAfterSeconds,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_RETRY_DELAYS_SECONDS,
} from "./retry-schedule.ts";

describe("webhook retry schedule", () => {
  it("grows and spans several days", () => {
    const delays = WEBHOOK_RETRY_DELAYS_SECONDS;
    for (let i = 1; i < delays.length; i += 1) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
    const totalDays = delays.reduce((sum, seconds) => sum + seconds, 0) / 86_400;
    expect(totalDays).toBeGreaterThan(3);
    expect(totalDays).toBeLessThan(4);
  });

  it("jitters by at most 10 % and stops after the last attempt", () => {
    expect(nextRetryDelayMs(1, 0)).toBe(4_500);
    expect(nextRetryDelayMs(1, 0.5)).toBe(5_000);
    expect(nextRetryDelayMs(1, 0.999_999)).toBe(5_500);
    expect(nextRetryDelayMs(WEBHOOK_MAX_ATTEMPTS - 1, 0.5)).toBe(86_400_000);
    expect(nextRetryDelayMs(WEBHOOK_MAX_ATTEMPTS, 0.5)).toBeNull();
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfterSeconds("120", now)).toBe(120);
    expect(parseRetryAfterSeconds("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60);
    expect(parseRetryAfterSeconds("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfterSeconds("soon", now)).toBeNull();
    expect(parseRetryAfterSeconds(null, now)).toBeNull();
  });
});
