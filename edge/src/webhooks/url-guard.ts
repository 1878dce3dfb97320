import { isBlockedIpv4, isBlockedIpv6, parseIpv4, parseIpv6 } from "./ip-ranges.ts";

export interface WebhookUrlPolicy {
  /** Local development: http:// is accepted and `devAllowedHosts` skip the address checks. */
  isDevelopment: boolean;
  devAllowedHosts: readonly string[];
}

export type UrlVerdict = { ok: true } | { ok: false; reason: string };

const BLOCKED_NAMES = new Set(["localhost", "metadata", "metadata.google.internal", "instance-data"]);
const BLOCKED_SUFFIXES = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"];

/**
 * SSRF check of a webhook URL at create time: https only (http only in local development), no
 * credentials, no `localhost` or internal names, no IP literal in a private, loopback, link-local, CGNAT
 * or metadata range. DNS names that later resolve to such addresses cannot be caught here (Workers have no
 * resolver API); Cloudflare's egress does not route to private space, which closes that gap in production.
 */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "webhook url must be an absolute URL" };
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.isDevelopment)) {
    return { ok: false, reason: "webhook url must use https" };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, reason: "webhook url must not contain credentials" };
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const hostWithPort = url.port ? `${host}:${url.port}` : host;
  if (
    policy.isDevelopment &&
    (policy.devAllowedHosts.includes(host) || policy.devAllowedHosts.includes(hostWithPort))
  ) {
    return { ok: true };
  }
  if (host.startsWith("[")) {
    const groups = parseIpv6(host.slice(1, -1));
    if (groups === null || isBlockedIpv6(groups))
      return { ok: false, reason: "webhook url must not target a private IP" };
    return { ok: true };
  }
  const v4 = parseIpv4(host);
  if (v4 !== null) {
    return isBlockedIpv4(v4) ? { ok: false, reason: "webhook url must not target a private IP" } : { ok: true };
  }
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    return { ok: false, reason: "webhook url must not target a local or internal host" };
  }
  if (!host.includes(".")) return { ok: false, reason: "webhook url must use a fully qualified host name" };
  return { ok: true };
}
