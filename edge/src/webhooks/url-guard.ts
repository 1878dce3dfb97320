import ipaddr from "ipaddr.js";

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
 * credentials, no `localhost` or internal names, a normalised host (one trailing dot at most, no empty
 * label), and an IP literal only when it is public unicast (ipaddr.js's classification, not hand-kept
 * ranges). DNS names that later resolve to private addresses cannot be caught here (Workers have no resolver
 * API); Cloudflare's egress does not route to private space, which closes that gap in production (a
 * self-hosted edge would need a resolving egress proxy).
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
  const hostname = url.hostname.toLowerCase();
  // One trailing dot is the DNS root (`example.com.` is `example.com`); more, or an empty label, is no name
  // a receiver should have, and such hosts have slipped past suffix checks elsewhere.
  const host = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  if (host === "" || host.split(".").some((label) => label === "")) {
    return { ok: false, reason: "webhook url host must not have empty labels or extra trailing dots" };
  }
  const hostWithPort = url.port ? `${host}:${url.port}` : host;
  if (
    policy.isDevelopment &&
    (policy.devAllowedHosts.includes(host) || policy.devAllowedHosts.includes(hostWithPort))
  ) {
    return { ok: true };
  }
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  if (host.startsWith("[") || ipaddr.IPv4.isValidFourPartDecimal(literal)) {
    return isPublicUnicast(literal) ? { ok: true } : { ok: false, reason: "webhook url must not target a private IP" };
  }
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    return { ok: false, reason: "webhook url must not target a local or internal host" };
  }
  if (!host.includes(".")) return { ok: false, reason: "webhook url must use a fully qualified host name" };
  return { ok: true };
}

/**
 * An IP literal passes only when ipaddr.js classifies it as plain `unicast`: every special-purpose range is
 * refused, IPv4 ones (private, loopback, link-local metadata, CGNAT, documentation, benchmarking, reserved) and
 * IPv6 ones, including the forms that embed an IPv4 address (mapped, translated, compatible, NAT64, 6to4,
 * Teredo), so no IPv6 spelling reaches a private IPv4 host; IPv6 must moreover lie in 2000::/3.
 */
function isPublicUnicast(literal: string): boolean {
  if (!ipaddr.isValid(literal)) return false;
  const address = ipaddr.parse(literal);
  if (address.range() !== "unicast") return false;
  // ipaddr.js calls the IPv4-compatible block (::/96, deprecated) unicast: IPv6 must also be global unicast.
  return address.kind() === "ipv4" || address.match(GLOBAL_UNICAST_V6);
}

/** 2000::/3, the only IPv6 space assigned for global unicast. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3");
