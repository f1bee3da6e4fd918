/**
 * The contract of a request the server sends to a URL someone else chose (a webhook endpoint, an
 * integration's incoming webhook, an OAuth token endpoint). Features take a {@link SendOutbound}
 * as a typed argument, so tests can hand them a sender pointed at local fakes and production hands
 * them the guarded sender that refuses internal addresses and pins the connection to the address
 * it checked.
 *
 * @example
 * const send: SendOutbound = guardedSender({ allowLoopback: false });
 * const res = await send({ url: "https://hooks.example.com/x", headers: { "content-type": "application/json" },
 *   body: '{"a": 1}', timeoutMs: 30_000 });
 * if (res.status >= 200 && res.status < 300) console.log("delivered in", res.latencyMs, "ms");
 */

/** One POST to an outside URL. Redirects are never followed: a 3xx is returned as it is. */
export interface OutboundRequest {
  readonly url: string;
  /** POST unless said otherwise (token endpoints and webhooks both POST). */
  readonly method?: "POST" | "GET";
  readonly headers: Readonly<Record<string, string>>;
  /** The exact bytes to send (signatures are computed over them). */
  readonly body: string | Uint8Array;
  /** The whole exchange, connect to last byte of the response body read. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** What came back. */
export interface OutboundResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The response body as text, cut to the sender's limit (receivers' error pages can be large). */
  readonly body: string;
  /** Milliseconds from the start of the request to the end of the response. */
  readonly latencyMs: number;
}

/**
 * Why a request was not sent or got no response. `refused`: the URL or the address it resolves to
 * is not allowed (loopback, private, metadata ...; `reason` names the class); `timeout`; `dns`: the
 * host name does not resolve; `network`: connection refused or reset, TLS failure.
 */
export class OutboundError extends Error {
  constructor(
    readonly kind: "refused" | "timeout" | "dns" | "network",
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

/** Sends one request; rejects with {@link OutboundError} when there is no HTTP response. */
export type SendOutbound = (request: OutboundRequest) => Promise<OutboundResponse>;
