/**
 * Who is on the other end of a request: the peer's address, or, when the peer is one of the
 * configured reverse proxies (ARAGORA_TRUSTED_PROXIES), the address it says it forwarded for.
 * X-Forwarded-For is read right to left (each proxy appends the address it saw) and the first
 * address that is not a trusted proxy is the client: a client cannot choose its own address by
 * sending the header, since the hop it reached first appends the real one after whatever it sent.
 * From any peer not trusted the header is ignored.
 *
 * What the rate limits key unauthenticated callers by, and what the sign-in backoff and the audit
 * log record; read it with {@link clientIpOf} (the shell works it out once per request, when asked).
 *
 * @example
 * const addressOf = clientAddressResolver(["10.0.0.0/8"]);
 * addressOf("10.1.2.3", "198.51.100.7, 10.9.9.9"); // "198.51.100.7"
 * addressOf("203.0.113.5", "198.51.100.7"); // "203.0.113.5": not a proxy of ours
 */
import ipaddr from "ipaddr.js";
import { stateOf } from "./request-state.ts";

/** The address of a request whose peer is not known (a request made in process, a closed socket). */
export const UNKNOWN_ADDRESS = "unknown";

/** Whether `text` is an IP address in its usual form (dotted decimal IPv4, or IPv6). */
function isAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);
}

/** An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) as the IPv4 address it is. */
function canonical(address: string): string {
  return address.startsWith("::ffff:") && ipaddr.IPv4.isValidFourPartDecimal(address.slice(7))
    ? address.slice(7)
    : address;
}

/**
 * The resolver of client addresses for `trustedProxies` (addresses and CIDR ranges, as config.ts
 * checked them): from the peer's address and the X-Forwarded-For header, the client's address.
 *
 * @example clientAddressResolver([])("192.0.2.1", "1.2.3.4") // "192.0.2.1"
 */
export function clientAddressResolver(
  trustedProxies: readonly string[],
): (peer: string | undefined, forwardedFor: string | null) => string {
  if (trustedProxies.length === 0) {
    return (peer) => (peer === undefined ? UNKNOWN_ADDRESS : canonical(peer));
  }
  const ranges = trustedProxies.map((entry) => {
    const [address, bits] = entry.includes("/") ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), undefined];
    return { address, bits: bits ?? (address.kind() === "ipv4" ? 32 : 128) };
  });
  const isTrusted = (address: string): boolean => {
    if (!isAddress(address)) return false;
    const parsed = ipaddr.parse(address);
    return ranges.some((r) => r.address.kind() === parsed.kind() && parsed.match(r.address, r.bits));
  };
  return (peer, forwardedFor) => {
    if (peer === undefined) return UNKNOWN_ADDRESS;
    let client = canonical(peer);
    if (forwardedFor === null || !isTrusted(client)) return client;
    const hops = forwardedFor.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = canonical((hops[i] as string).trim());
      // Garbage in the chain: the last hop a trusted proxy vouched for is as far as it can be followed.
      if (!isAddress(hop)) return client;
      client = hop;
      if (!isTrusted(hop)) return client;
    }
    return client;
  };
}

/**
 * The client address of a request the shell opened (UNKNOWN_ADDRESS for one it did not).
 *
 * @example backoff.attempt(email, clientIpOf(request));
 */
export function clientIpOf(request: Request): string {
  return stateOf(request)?.clientIp(request) ?? UNKNOWN_ADDRESS;
}
