/**
 * Special-purpose IP ranges a webhook must never reach: loopback, private, link-local (cloud metadata lives
 * at 169.254.169.254 and fd00:ec2::254), CGNAT (100.100.100.200 is Alibaba's metadata), multicast,
 * documentation and reserved space. Works on WHATWG-normalised literals (`new URL(...).hostname`), so
 * `0x7f.1` or `2130706433` have already become `127.0.0.1`.
 */

type Cidr4 = readonly [number, number];

const BLOCKED_V4: readonly Cidr4[] = [
  [ipv4("0.0.0.0"), 8],
  [ipv4("10.0.0.0"), 8],
  [ipv4("100.64.0.0"), 10],
  [ipv4("127.0.0.0"), 8],
  [ipv4("169.254.0.0"), 16],
  [ipv4("172.16.0.0"), 12],
  [ipv4("192.0.0.0"), 24],
  [ipv4("192.0.2.0"), 24],
  [ipv4("192.88.99.0"), 24],
  [ipv4("192.168.0.0"), 16],
  [ipv4("198.18.0.0"), 15],
  [ipv4("198.51.100.0"), 24],
  [ipv4("203.0.113.0"), 24],
  [ipv4("224.0.0.0"), 4],
  [ipv4("240.0.0.0"), 4],
];

function ipv4(text: string): number {
  return text.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return null;
  return ipv4(text);
}

export function isBlockedIpv4(address: number): boolean {
  return BLOCKED_V4.some(
    ([base, bits]) => Math.floor(address / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)),
  );
}

/** Parses an IPv6 literal (without brackets) into eight 16-bit groups; null when it is not one. */
export function parseIpv6(text: string): number[] | null {
  let body = text.toLowerCase();
  const zone = body.indexOf("%");
  if (zone >= 0) body = body.slice(0, zone);
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(":");
  if (body.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [Math.floor(v4 / 65_536), v4 % 65_536];
    body = body.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const parse = (half: string | undefined) => (half ? half.split(":") : []);
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  if ([...head, ...rest].some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return null;
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 1 && explicit !== 8) return null;
  if (halves.length === 2 && explicit > 7) return null;
  const zeros = new Array<number>(8 - explicit).fill(0);
  return [...head.map((g) => parseInt(g, 16)), ...zeros, ...rest.map((g) => parseInt(g, 16)), ...tail];
}

function embeddedV4(groups: number[], at: number): number {
  return (groups[at] ?? 0) * 65_536 + (groups[at + 1] ?? 0);
}

export function isBlockedIpv6(groups: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0] = groups;
  const firstSixZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstSixZero && g5 === 0) return true; // ::, ::1 and the deprecated IPv4-compatible ::/96
  if (firstSixZero && g5 === 0xffff) return isBlockedIpv4(embeddedV4(groups, 6)); // IPv4-mapped
  if (g0 === 0x64 && g1 === 0xff9b) return g2 !== 0 || isBlockedIpv4(embeddedV4(groups, 6)); // NAT64
  if (g0 === 0x2002) return isBlockedIpv4(embeddedV4(groups, 1)); // 6to4
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return true; // discard-only
  if (g0 === 0x2001 && (g1 === 0 || g1 === 0x0db8)) return true; // Teredo, documentation
  if ((g0 & 0xfe00) === 0xfc00) return true; // unique local (fd00:ec2::254 is AWS metadata)
  if ((g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0) return true; // link-local, site-local
  if ((g0 & 0xff00) === 0xff00) return true; // multicast
  return false;
}
