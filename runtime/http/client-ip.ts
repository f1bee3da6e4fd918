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
import { BlockList, isIP } from "node:net";
import { stateOf } from "./request-state.ts";

/** The address of a request whose peer is not known (a request made in process, a closed socket). */
export const UNKNOWN_ADDRESS = "unknown";

/** An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) as the IPv4 address it is. */
function canonical(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
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
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const slash = entry.indexOf("/");
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (slash < 0) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(entry.slice(slash + 1)), family);
  }
  const isTrusted = (address: string): boolean => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? "ipv6" : "ipv4");
  };
  return (peer, forwardedFor) => {
    if (peer === undefined) return UNKNOWN_ADDRESS;
    let client = canonical(peer);
    if (forwardedFor === null || !isTrusted(client)) return client;
    const hops = forwardedFor.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = canonical((hops[i] as string).trim());
      // Garbage in the chain: the last hop a trusted proxy vouched for is as far as it can be followed.
      if (isIP(hop) === 0) return client;
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
