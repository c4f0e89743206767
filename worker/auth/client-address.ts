// The client address that sign-in throttling and the audit of failed sign-ins count by: an IPv4
// address as it is, an IPv6 client by its /64. One IPv6 subscriber usually holds a whole /64
// (RFC 6177 recommends at least that per site), so counting single IPv6 addresses would hand
// a guesser 2^64 fresh budgets. Pure: no I/O.

/** Local runs without Cloudflare's edge may have no client address: they share one key. */
export const UNKNOWN_ADDRESS = "unknown";

/** `203.0.113.7`, `2001:db8:1:2::/64`, or UNKNOWN_ADDRESS for anything that is not an address. */
export function addressKey(ip: string | null): string {
  if (ip === null) return UNKNOWN_ADDRESS;
  const text = ip.trim().toLowerCase();
  if (isIPv4(text)) return text;
  const groups = ipv6Groups(text);
  if (groups === null) return UNKNOWN_ADDRESS;
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 client it maps.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing IPv4 part converted), or null. */
function ipv6Groups(text: string): number[] | null {
  let address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const lastColon = address.lastIndexOf(":");
  if (lastColon !== -1 && address.includes(".", lastColon)) {
    const v4 = address.slice(lastColon + 1);
    if (!isIPv4(v4)) return null;
    const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
    address = `${address.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return groups.map((group) => parseInt(group, 16));
}
