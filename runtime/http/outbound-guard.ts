/**
 * The gate in front of every request to a URL someone else chose: which URLs may be registered
 * ({@link validateOutboundUrl}, synchronous, for a 4xx at registration) and, at send time, which
 * address the request goes to ({@link vetOutboundTarget}: the host name resolved once, every
 * answer checked, one checked address returned for the sender to connect to). A host that
 * resolves to a public address when registered and to 127.0.0.1 when sent (DNS rebinding) is
 * refused at send time, and the connection goes to the address that was checked, never to a
 * second resolution.
 *
 * @example
 * const policy: OutboundPolicy = { allowLoopback: false, requireHttps: true };
 * validateOutboundUrl("http://169.254.169.254/latest/meta-data", policy)
 * // { ok: false, rule: "insecure", reason: "must use https:// ..." }
 * const target = await vetOutboundTarget(new URL("https://hooks.slack.com/services/T/B/x"), policy);
 * target.address; // "52.x.x.x": the sender connects there, with Host and TLS name hooks.slack.com
 */
import { lookup } from "node:dns/promises";
import type { Config } from "../config.ts";
import { OutboundError } from "./outbound.ts";
import {
  type AddressClass,
  type AddressVerdict,
  classifyAddress,
  classText,
  describeRefusal,
  METADATA_HOST_NAMES,
} from "./outbound-address.ts";

/** What outbound requests may reach, from the configuration. */
export interface OutboundPolicy {
  /** Loopback addresses (127.0.0.0/8, ::1, localhost) allowed: development and tests only. */
  readonly allowLoopback: boolean;
  /** Plain http refused (production). */
  readonly requireHttps: boolean;
}

/**
 * The policy of a configuration: loopback only when ARAGORA_OUTBOUND_ALLOW_LOOPBACK=true, https
 * only when ARAGORA_ENV=production.
 *
 * @example outboundPolicyOf(loadConfig({})) // { allowLoopback: false, requireHttps: false }
 */
export function outboundPolicyOf(config: Pick<Config, "env" | "outboundAllowLoopback">): OutboundPolicy {
  return { allowLoopback: config.outboundAllowLoopback, requireHttps: config.env === "production" };
}

/** The rule a URL broke: an address class, or one of the URL's own rules. */
export type OutboundRule = AddressClass | "invalid-url" | "scheme" | "insecure" | "credentials";

export type UrlCheck =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly rule: OutboundRule; readonly reason: string };

/** Longest URL accepted: long enough for any real webhook URL, short enough to store and log. */
export const MAX_OUTBOUND_URL_LENGTH = 2048;

const refuse = (rule: OutboundRule, reason: string): UrlCheck => ({ ok: false, rule, reason });

/** Whether a refused address class is let through by the policy (loopback, when allowed). */
const excused = (cls: AddressClass, policy: OutboundPolicy) => cls === "loopback" && policy.allowLoopback;

/** The host name without brackets and trailing dot, lower case ("LOCALHOST." -> "localhost"). */
function bareHost(url: URL): string {
  const host = url.hostname.toLowerCase();
  const unbracketed = host.startsWith("[") ? host.slice(1, -1) : host;
  return unbracketed.endsWith(".") ? unbracketed.slice(0, -1) : unbracketed;
}

const isAddressLiteral = (url: URL) => url.hostname.startsWith("[") || /^[\d.]+$/.test(url.hostname);

/**
 * Whether `raw` may be registered as a destination, and if not, why, in words fit for a 422 (the
 * caller prefixes the field name). Checks the URL alone: the scheme, credentials, and a host that
 * is an address or a name known to be internal (localhost, cloud metadata names). Addresses that
 * names resolve to are checked at send time by {@link vetOutboundTarget}. IPv4 hosts written in
 * other forms (`2130706433`, `0x7f.1`, `017700000001`) are read as the WHATWG URL parser, and so
 * every HTTP client, reads them: as 127.0.0.1.
 *
 * @example
 * validateOutboundUrl("https://user:pw@example.com/", { allowLoopback: false, requireHttps: false })
 * // { ok: false, rule: "credentials", reason: "must not carry a user name or password" }
 */
export function validateOutboundUrl(raw: string, policy: OutboundPolicy): UrlCheck {
  if (raw.length > MAX_OUTBOUND_URL_LENGTH) {
    return refuse("invalid-url", `must be at most ${MAX_OUTBOUND_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("invalid-url", "must be an absolute http(s) URL such as https://hooks.example.com/aragora");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return refuse("scheme", `must use https:// (the scheme ${url.protocol} is not allowed)`);
  }
  if (url.protocol === "http:" && policy.requireHttps) {
    return refuse("insecure", "must use https:// (plain http is refused in production)");
  }
  if (url.username !== "" || url.password !== "") {
    return refuse("credentials", "must not carry a user name or password (put credentials in headers or the secret)");
  }
  const host = bareHost(url);
  if (host === "") return refuse("invalid-url", "must name a host");
  if (isAddressLiteral(url)) {
    const verdict = classifyAddress(host);
    if (!verdict.allowed && !excused(verdict.class, policy)) {
      return refuse(verdict.class, `must reach a public address: ${describeRefusal(verdict)}`);
    }
    return { ok: true, url };
  }
  // RFC 6761: localhost and every name under it are loopback, whatever a resolver says.
  if (host === "localhost" || host.endsWith(".localhost")) {
    return policy.allowLoopback
      ? { ok: true, url }
      : refuse("loopback", `must reach a public address: ${host} is a loopback host name`);
  }
  if (METADATA_HOST_NAMES.has(host)) {
    return refuse("metadata", `must reach a public address: ${host} is a cloud metadata service`);
  }
  return { ok: true, url };
}

/** Resolves a host name to its addresses (IPv4 and IPv6, as the system resolver orders them). */
export type ResolveHost = (hostname: string) => Promise<readonly string[]>;

/**
 * The system resolver (getaddrinfo: /etc/hosts, then DNS), every answer.
 *
 * @example await systemResolve("localhost") // ["127.0.0.1"] (or with "::1")
 */
export const systemResolve: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((answer) => answer.address);

/** A URL that passed every check, with the one address the request must go to. */
export interface VettedTarget {
  readonly url: URL;
  /** A literal IPv4 or IPv6 address (without brackets), checked. */
  readonly address: string;
}

/** Where to connect for a verdict the policy let through (a loopback one carried by IPv6: its IPv4). */
const connectable = (verdict: AddressVerdict) =>
  verdict.allowed ? verdict.address : (verdict.inner ?? verdict.address);

/** Rejects when `signal` aborts, so a slow resolver counts against the request's deadline. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Checks `raw` and resolves its host once, refusing the request when any answer is an address the
 * policy does not allow (a name that resolves to both a public and a private address is refused:
 * that is a name someone arranged). Throws {@link OutboundError}: `refused` (reason: the rule) or
 * `dns`. The caller connects to `address`, never to the name.
 *
 * @example
 * await vetOutboundTarget("https://rebind.example/x", policy, async () => ["127.0.0.1"])
 * // throws OutboundError refused/loopback: "the host rebind.example resolves to a loopback address"
 */
export async function vetOutboundTarget(
  raw: string,
  policy: OutboundPolicy,
  resolve: ResolveHost = systemResolve,
  signal?: AbortSignal,
): Promise<VettedTarget> {
  const check = validateOutboundUrl(raw, policy);
  if (!check.ok) throw new OutboundError("refused", `url ${check.reason}`, check.rule);
  const { url } = check;
  const host = bareHost(url);
  if (isAddressLiteral(url)) {
    return { url, address: connectable(classifyAddress(host)) };
  }
  let answers: readonly string[];
  try {
    answers = await raceAbort(resolve(host), signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new OutboundError(
      "dns",
      `the host ${host} does not resolve (${(err as { code?: string }).code ?? "no answer"})`,
    );
  }
  if (answers.length === 0) throw new OutboundError("dns", `the host ${host} does not resolve (no address)`);
  let chosen: string | undefined;
  for (const answer of answers) {
    const verdict = classifyAddress(answer);
    if (!verdict.allowed && !excused(verdict.class, policy)) {
      // The address itself is not named: error messages reach the organisation's admins, and
      // must not map the internal network for them.
      throw new OutboundError("refused", `the host ${host} resolves to ${classText(verdict.class)}`, verdict.class);
    }
    chosen ??= connectable(verdict);
  }
  return { url, address: chosen as string };
}
