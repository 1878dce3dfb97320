/**
 * Cloudflare Access service-token headers. In production the edge's worker-API host (WORKER_API_HOSTNAME)
 * sits behind an Access application whose "Service Auth" policy admits the fleet's service token; Access
 * checks these two headers before the request reaches the edge, so every call a worker makes to the edge
 * carries them (docs/deploy.md, step 4). The secret is a credential: it goes into request headers and nowhere
 * else (no log line, no error message; the logger redacts both headers as a second guard).
 */

export const CF_ACCESS_CLIENT_ID_HEADER = "CF-Access-Client-Id";
export const CF_ACCESS_CLIENT_SECRET_HEADER = "CF-Access-Client-Secret";

/** A service token as Cloudflare issues it (Zero Trust > Access > Service credentials). */
export interface AccessServiceToken {
  clientId: string;
  clientSecret: string;
}

/** The headers to add to each edge request: both with a token, none without. */
export function accessHeaders(token: AccessServiceToken | undefined): Record<string, string> {
  if (token === undefined) return {};
  return { [CF_ACCESS_CLIENT_ID_HEADER]: token.clientId, [CF_ACCESS_CLIENT_SECRET_HEADER]: token.clientSecret };
}

/**
 * Why a redirect from the worker API is worth its own message: the edge never redirects, but Access may
 * answer a request it refuses with a redirect to its login page (followed, that page would read as a 200).
 */
export const REDIRECT_HINT =
  "the worker API never redirects: is a Cloudflare Access policy on the edge's worker-API host refusing this worker's service token (CF_ACCESS_CLIENT_ID / CF_ACCESS_CLIENT_SECRET)?";
