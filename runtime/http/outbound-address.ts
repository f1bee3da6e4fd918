/**
 * Which IP addresses a request to a URL someone else chose may reach: public unicast addresses
 * only. Everything else names its class, so a refusal can say why: loopback, private (RFC 1918 and
 * IPv6 unique local), link-local, carrier-grade NAT, multicast, unspecified, broadcast, reserved
 * or special-purpose, and the cloud metadata services. IPv6 addresses that carry an IPv4 address
 * (IPv4-mapped, IPv4-translated, NAT64, 6to4, Teredo) are judged by the address they carry, since
 * that is where a packet to them ends up; the deprecated IPv4-compatible form is refused outright.
 *
 * The check is an allow list: an IPv4 address must be in no special range, an IPv6 address must
 * be global unicast (2000::/3) and in no special range, so a range this module has never heard of
 * is refused rather than let through.
 *
 * @example
 * classifyAddress("8.8.8.8")            // { allowed: true, address: "8.8.8.8" }
 * classifyAddress("::ffff:10.0.0.1")    // { allowed: false, class: "private", ... , carrier: "IPv4-mapped" }
 * classifyAddress("169.254.169.254")    // { allowed: false, class: "metadata", ... }
 */
import ipaddr from "ipaddr.js";

/** Why an address may not be reached. */
export type AddressClass =
  | "loopback"
  | "private"
  | "link-local"
  | "carrier-grade-nat"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "reserved"
  | "metadata";

export type AddressVerdict =
  | {
      readonly allowed: true;
      /** The address to connect to, in canonical form (an IPv4-mapped address as its IPv4). */
      readonly address: string;
    }
  | {
      readonly allowed: false;
      readonly class: AddressClass;
      /** The refused address as given. */
      readonly address: string;
      /** The IPv4 address an IPv6 form carries, when that is what was judged. */
      readonly inner?: string;
      /** The IPv6 form that carried it ("IPv4-mapped", "NAT64", "6to4", "Teredo", ...). */
      readonly carrier?: string;
    };

/**
 * Cloud metadata services (instance credentials live there): AWS and most clouds at
 * 169.254.169.254 and fd00:ec2::254, AWS ECS task and EKS pod identity endpoints, Alibaba Cloud,
 * Oracle Cloud. They are link-local, CGNAT or unique-local already; naming them says why.
 */
const METADATA_ADDRESSES = new Set([
  "169.254.169.254",
  "169.254.170.2",
  "169.254.170.23",
  "100.100.100.200",
  "192.0.0.192",
  "fd00:ec2::254",
  "fd00:ec2::23",
]);

/** Host names of metadata services, refused before any resolution (they resolve to the above). */
export const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  "metadata.google.internal",
  "metadata.goog",
  "metadata",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
  "metadata.azure.internal",
]);

const IPV4_CLASSES: Record<string, AddressClass> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade-nat",
  private: "private",
};

const IPV6_CLASSES: Record<string, AddressClass> = {
  unspecified: "unspecified",
  linkLocal: "link-local",
  multicast: "multicast",
  loopback: "loopback",
  uniqueLocal: "private",
};

const v4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

function classifyV4(address: ipaddr.IPv4): AddressClass | undefined {
  if (METADATA_ADDRESSES.has(address.toString())) return "metadata";
  const range = address.range();
  if (range === "unicast") return undefined;
  return IPV4_CLASSES[range] ?? "reserved";
}

/** The IPv4 addresses an IPv6 address carries, with the name of the form; empty when none. */
function carried(address: ipaddr.IPv6): { form: string; inner: ipaddr.IPv4[] } | undefined {
  const p = address.parts as [number, number, number, number, number, number, number, number];
  switch (address.range()) {
    case "ipv4Mapped":
      return { form: "IPv4-mapped", inner: [v4(p[6], p[7])] };
    case "rfc6145":
      return { form: "IPv4-translated", inner: [v4(p[6], p[7])] };
    case "rfc6052":
      return { form: "NAT64", inner: [v4(p[6], p[7])] };
    case "6to4":
      return { form: "6to4", inner: [v4(p[1], p[2])] };
    case "teredo":
      // The Teredo server, and the client whose address is stored inverted (RFC 4380 section 4).
      return { form: "Teredo", inner: [v4(p[2], p[3]), v4(~p[6] & 0xffff, ~p[7] & 0xffff)] };
    default:
      return undefined;
  }
}

function classifyV6(address: ipaddr.IPv6): AddressVerdict {
  const text = address.toString();
  const refuse = (cls: AddressClass, extra: { inner?: string; carrier?: string } = {}): AddressVerdict => ({
    allowed: false,
    class: cls,
    address: text,
    ...extra,
  });
  if (METADATA_ADDRESSES.has(text)) return refuse("metadata");
  const form = carried(address);
  if (form !== undefined) {
    for (const inner of form.inner) {
      const cls = classifyV4(inner);
      if (cls !== undefined) return refuse(cls, { inner: inner.toString(), carrier: form.form });
    }
    // A mapped address is the IPv4 host itself: connect to that, as the kernel would.
    const only = form.inner[0] as ipaddr.IPv4;
    return { allowed: true, address: form.form === "IPv4-mapped" ? only.toString() : text };
  }
  const range = address.range();
  const named = IPV6_CLASSES[range];
  if (named !== undefined) return refuse(named);
  const p = address.parts;
  // ::a.b.c.d, deprecated since RFC 4291: no stack should be routing it, whatever it carries.
  if (p.slice(0, 6).every((part) => part === 0)) {
    const inner = v4(p[6] as number, p[7] as number);
    return refuse(classifyV4(inner) ?? "reserved", { inner: inner.toString(), carrier: "IPv4-compatible" });
  }
  // Global unicast is 2000::/3; fec0::/10 (site-local), 64:ff9b:1::/48 (local NAT64), 100::/64
  // and the rest outside it are special purpose, as are the reserved ranges inside it and the
  // documentation prefix 3fff::/20 (RFC 9637), newer than ipaddr.js's table.
  const globalUnicast = ((p[0] as number) & 0xe000) === 0x2000;
  const documentation = p[0] === 0x3fff && ((p[1] as number) & 0xf000) === 0;
  if (!globalUnicast || range !== "unicast" || documentation) return refuse("reserved");
  return { allowed: true, address: text };
}

/**
 * Whether `address` (an IPv4 or IPv6 literal, as a resolver returns it) may be reached, and if
 * not, its class. A text that is not an address is refused as reserved.
 *
 * @example
 * classifyAddress("2002:7f00:1::1") // { allowed: false, class: "loopback", inner: "127.0.0.1", carrier: "6to4", ... }
 */
export function classifyAddress(address: string): AddressVerdict {
  // A verdict depends on the address's text alone: every send checks its address again (the
  // answer may have changed), and parsing it again each time cost more than the check itself.
  const known = verdicts.get(address);
  if (known !== undefined) return known;
  const verdict = judge(address);
  if (verdicts.size >= VERDICTS_KEPT) verdicts.clear();
  verdicts.set(address, verdict);
  return verdict;
}

/** Verdicts kept, by address text: as many addresses as a server's receivers resolve to, bounded. */
const VERDICTS_KEPT = 4096;
const verdicts = new Map<string, AddressVerdict>();

function judge(address: string): AddressVerdict {
  const text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const parsed = ipaddr.IPv4.parse(text);
    const cls = classifyV4(parsed);
    return cls === undefined
      ? { allowed: true, address: parsed.toString() }
      : { allowed: false, class: cls, address: text };
  }
  if (ipaddr.IPv6.isValid(text) && !text.includes("%")) return classifyV6(ipaddr.IPv6.parse(text));
  return { allowed: false, class: "reserved", address: text };
}

const CLASS_TEXT: Record<AddressClass, string> = {
  loopback: "a loopback address",
  private: "a private network address",
  "link-local": "a link-local address",
  "carrier-grade-nat": "a carrier-grade NAT address (100.64.0.0/10)",
  multicast: "a multicast address",
  unspecified: "the unspecified address",
  broadcast: "the broadcast address",
  reserved: "a reserved or special-purpose address",
  metadata: "a cloud metadata service address",
};

/** An address class in words ("a loopback address"). */
export const classText = (cls: AddressClass): string => CLASS_TEXT[cls];

/**
 * A refused verdict in words, for an error message.
 *
 * @example describeRefusal(classifyAddress("::ffff:127.0.0.1") as never)
 * // "::ffff:7f00:1 is an IPv4-mapped form of 127.0.0.1, a loopback address"
 */
export function describeRefusal(verdict: Extract<AddressVerdict, { allowed: false }>): string {
  const what = CLASS_TEXT[verdict.class];
  return verdict.carrier !== undefined
    ? `${verdict.address} is ${verdict.carrier.startsWith("I") ? "an" : "a"} ${verdict.carrier} form of ${verdict.inner}, ${what}`
    : `${verdict.address} is ${what}`;
}
