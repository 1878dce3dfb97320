/**
 * Parsers of single settings: each returns the value (or a fallback) and pushes a problem naming the setting
 * when the raw value is wrong, so readConfig collects every problem at once and never throws.
 */
const DEV_SECRET_PREFIX = "dev-";
const SECRET_MIN_LENGTH = 16;

export function list(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function positiveNumber(raw: string | undefined, fallback: number, name: string, problems: string[]): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    problems.push(`${name} must be a positive number`);
    return fallback;
  }
  return value;
}

export function secret(raw: string | undefined, name: string, isDevelopment: boolean, problems: string[]): string {
  const value = raw ?? "";
  if (value.length < SECRET_MIN_LENGTH) problems.push(`${name} must be set (at least ${SECRET_MIN_LENGTH} chars)`);
  else if (!isDevelopment && value.startsWith(DEV_SECRET_PREFIX)) problems.push(`${name} is a dev-only value`);
  return value;
}

/**
 * PUBLIC_BASE_URL, the origin of every link the edge hands out (Location, `urls.*`, webhooks). Required outside
 * development, so a link never comes from the request's `Host` (which the caller chooses); an origin only,
 * https (http in development). Null in development when unset: links then use the request's origin.
 */
export function parsePublicBaseUrl(raw: string | undefined, isDevelopment: boolean, problems: string[]): string | null {
  if (raw === undefined || raw.trim() === "") {
    if (!isDevelopment) problems.push("PUBLIC_BASE_URL must be set (e.g. https://api.example.com)");
    return null;
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    problems.push("PUBLIC_BASE_URL must be an absolute URL such as https://api.example.com");
    return null;
  }
  const isAllowedScheme = url.protocol === "https:" || (isDevelopment && url.protocol === "http:");
  if (!isAllowedScheme || url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    problems.push("PUBLIC_BASE_URL must be an https origin with no credentials, query or fragment");
    return null;
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** An ISO 8601 instant (ms since the epoch); null when unset. */
export function instant(raw: string | undefined, name: string, problems: string[]): number | null {
  if (raw === undefined || raw.trim() === "") return null;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) problems.push(`${name} must be an ISO 8601 date-time (e.g. 2026-12-31T00:00:00Z)`);
  return Number.isNaN(ms) ? null : ms;
}

/** A bare host name (no scheme, port or path), lowercased; null when unset. */
export function hostname(raw: string | undefined, name: string, problems: string[]): string | null {
  if (raw === undefined || raw.trim() === "") return null;
  const value = raw.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(value)) {
    problems.push(`${name} must be a host name such as workers.api.example.com`);
    return null;
  }
  return value;
}

/** A comma list of exact origins (`https://app.example.com`; http only in development); `*` is refused. */
export function parseOrigins(raw: string | undefined, isDevelopment: boolean, name: string, problems: string[]) {
  const origins: string[] = [];
  for (const item of list(raw)) {
    let url: URL | null = null;
    try {
      url = new URL(item);
    } catch {
      url = null;
    }
    const isAllowedScheme = url?.protocol === "https:" || (isDevelopment && url?.protocol === "http:");
    if (url === null || !isAllowedScheme || url.origin !== item.replace(/\/$/, "")) {
      problems.push(`${name} must list exact origins such as https://app.example.com (got '${item.slice(0, 80)}')`);
      continue;
    }
    origins.push(url.origin);
  }
  return origins;
}
