/**
 * The {@link SendOutbound} the server uses in production: every request is vetted by
 * {@link vetOutboundTarget} (URL rules, host resolved once, every answer checked) and sent to the
 * address that was checked. Pinning is done by putting that address in the URL fetch connects to
 * and sending the original name as the Host header and as the TLS server name (SNI and certificate
 * check), so nothing resolves the name a second time.
 *
 * Why not a custom `lookup`: Bun's fetch has none, and Bun's `node:http` client, which honours
 * one, pools connections by host name: under Bun 1.4.5 a request whose lookup answered 127.0.0.2
 * went out on a pooled socket to 127.0.0.1, which an earlier lookup had answered. Connections
 * pooled by the address itself cannot go anywhere else (tests/outbound/guarded-sender.test.ts
 * proves the request reaches the checked address, with two receivers on one port).
 *
 * Redirects are never followed (a 3xx comes back as it is); the timeout covers the whole exchange,
 * resolution included, to the last byte of the body read; the body is read up to a limit and the
 * rest dropped unread.
 *
 * @example
 * const send = guardedSender({ policy: outboundPolicyOf(config) });
 * const res = await send({ url, headers: { "content-type": "application/json" }, body, timeoutMs: 30_000 });
 */

import { OutboundError, type OutboundRequest, type OutboundResponse, type SendOutbound } from "./outbound.ts";
import { type OutboundPolicy, type ResolveHost, systemResolve, vetOutboundTarget } from "./outbound-guard.ts";

export interface GuardedSenderOptions {
  readonly policy: OutboundPolicy;
  /** The resolver of host names (default: the system's); tests give names of their own. */
  readonly resolve?: ResolveHost;
  /** Bytes of a response body kept (default 16 KiB); the rest is not read. */
  readonly maxResponseBytes?: number;
  /** CA certificates (PEM) trusted instead of the system's: a private CA, or a test's own. */
  readonly ca?: string;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024;

/** The URL fetch connects to: the checked address in place of the name, the rest unchanged. */
function pinnedUrl(url: URL, address: string): string {
  const host = address.includes(":") ? `[${address}]` : address;
  const port = url.port === "" ? "" : `:${url.port}`;
  return `${url.protocol}//${host}${port}${url.pathname}${url.search}`;
}

/** The caller's headers without a Host of its own (in any case): the URL's host is the one sent. */
function withoutHost(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) if (name.toLowerCase() !== "host") out[name] = headers[name] as string;
  return out;
}

/** Reads at most `max` bytes of the body as UTF-8 text, cancelling the rest. */
async function readCapped(response: Response, max: number): Promise<string> {
  if (response.body === null) return "";
  // A body whose announced length is within the limit is read whole: the connection's framing
  // ends it there, and one read costs far less than a reader's loop (most receivers answer "ok").
  // Not a compressed one: its length is the compressed size, and it may inflate far past it.
  const length = response.headers.get("content-length");
  if (
    length !== null &&
    response.headers.get("content-encoding") === null &&
    /^\d{1,9}$/.test(length) &&
    Number(length) <= max
  ) {
    return response.text();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (size >= max) await reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.length;
    if (at === bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

/** A failure without a response, as the contract's error (never the resolver's or fetch's own). */
function asOutboundError(err: unknown, timedOut: boolean, timeoutMs: number, cancelled: boolean): OutboundError {
  if (err instanceof OutboundError) return err;
  if (timedOut) return new OutboundError("timeout", `no complete response within ${timeoutMs} ms`);
  if (cancelled) return new OutboundError("network", "the request was cancelled");
  const code = (err as { code?: unknown }).code;
  const detail = typeof code === "string" ? code : (err as Error).message;
  return new OutboundError("network", `the connection failed (${detail})`);
}

/**
 * A sender that refuses what `policy` refuses and pins each request to the address it checked.
 *
 * @example
 * const send = guardedSender({ policy: { allowLoopback: false, requireHttps: true } });
 * await send({ url: "https://127.0.0.1/", headers: {}, body: "", timeoutMs: 1000 });
 * // rejects: OutboundError refused (reason "loopback")
 */
export function guardedSender(options: GuardedSenderOptions): SendOutbound {
  const resolve = options.resolve ?? systemResolve;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return async (request: OutboundRequest): Promise<OutboundResponse> => {
    const started = performance.now();
    const deadline = AbortSignal.timeout(request.timeoutMs);
    const signal = request.signal === undefined ? deadline : AbortSignal.any([deadline, request.signal]);
    try {
      const target = await vetOutboundTarget(request.url, options.policy, resolve, signal);
      // An address written in the URL has no name to send (SNI carries names only).
      const literal = target.url.hostname.startsWith("[") || target.url.hostname === target.address;
      const response = await fetch(pinnedUrl(target.url, target.address), {
        method: request.method ?? "POST",
        // The name, not the address: virtual hosts and the receiver's own checks see the URL's host.
        headers: { ...withoutHost(request.headers), host: target.url.host },
        body: request.method === "GET" ? undefined : request.body,
        redirect: "manual",
        signal,
        tls: {
          ...(literal ? {} : { serverName: target.url.hostname }),
          ...(options.ca === undefined ? {} : { ca: options.ca }),
        },
      });
      const body = await readCapped(response, maxBytes);
      return { status: response.status, headers: response.headers, body, latencyMs: performance.now() - started };
    } catch (err) {
      throw asOutboundError(err, deadline.aborted, request.timeoutMs, request.signal?.aborted === true);
    }
  };
}
