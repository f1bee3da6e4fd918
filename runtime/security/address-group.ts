/**
 * The group of addresses one client is counted as, for per-address limits (the sign-in rate limit
 * and the sign-in backoff): an IPv4 address alone, an IPv6 address by its /64. One subscriber is
 * usually given a whole /64, so counting IPv6 addresses one by one would give a single attacker
 * 2^64 budgets.
 *
 * @example addressGroup("2001:db8:1:2:aaaa::1") // "2001:db8:1:2::/64"
 * @example addressGroup("192.0.2.1") // "192.0.2.1"
 */
import ipaddr from "ipaddr.js";

export function addressGroup(address: string): string {
  if (!ipaddr.IPv6.isValid(address)) return address;
  const parts = ipaddr.IPv6.parse(address).parts;
  return `${new ipaddr.IPv6([...parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}
