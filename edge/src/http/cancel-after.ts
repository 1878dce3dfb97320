import { TIMEOUT_SECONDS_MAX } from "@bd3-serve/shared";
import { invalidRequest } from "../errors/api-error.ts";

/** `Cancel-After` as Replicate writes it: a duration such as `90s`, `5m`, `1h30m`, or bare seconds. */
const DURATION = /^(?:(\d{1,7})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?$/;

/**
 * The `Cancel-After` header in seconds (an alias of `timeout_seconds`); undefined when absent. A malformed,
 * zero or too long value is a 400 naming the header.
 */
export function cancelAfterSeconds(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  let seconds: number | null = null;
  if (/^\d{1,10}$/.test(value)) seconds = Number(value);
  else {
    const match = value === "" ? null : DURATION.exec(value);
    if (match !== null) {
      seconds = Number(match[1] ?? 0) * 3_600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
    }
  }
  if (seconds === null || seconds < 1 || seconds > TIMEOUT_SECONDS_MAX) {
    throw invalidRequest(
      `Cancel-After must be a duration such as 90s, 5m or 1h30m (at most ${TIMEOUT_SECONDS_MAX} s)`,
      "Cancel-After",
    );
  }
  return seconds;
}
