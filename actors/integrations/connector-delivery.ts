/**
 * What a connector's post came to, in the terms a delivery path acts on: `delivered`; `retry`
 * (5xx, 429, 408, a 3xx since redirects are not followed, a timeout or a broken connection; with
 * the wait the service asked for, if any); `gone` (410: the service says the destination no longer
 * exists, so the integration should be disabled); `rejected` (any other 4xx, or a URL the SSRF
 * guard refuses: sending the same again cannot succeed).
 *
 * @example
 * deliveryOf(await send(request), (s) => s === 200)   // { verdict: "delivered", status: 200, ... }
 * deliveryOfError(new OutboundError("timeout", "..."))  // { verdict: "retry", detail: "timeout: ..." }
 */
import { OutboundError, type OutboundResponse } from "../../runtime/http/outbound.ts";

export type DeliveryVerdict = "delivered" | "retry" | "gone" | "rejected";

export interface ConnectorDelivery {
  readonly verdict: DeliveryVerdict;
  /** The HTTP status, when there was a response. */
  readonly status?: number;
  /** How long the service asked to wait before the next attempt (Retry-After), in milliseconds. */
  readonly retryAfterMs?: number;
  /** The service's answer (cut by the sender) or the error, for the delivery record. */
  readonly detail: string;
}

/**
 * Retry-After as milliseconds: delta-seconds (Discord sends decimals) or an HTTP-date (RFC 9110
 * 10.2.3); undefined when absent or unreadable.
 *
 * @example retryAfterMs("2", 0) // 2000
 */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The verdict on a response; `accepted` says which 2xx statuses mean the service took the message.
 *
 * @example deliveryOf(res, (status) => status === 204 || status === 200)
 */
export function deliveryOf(response: OutboundResponse, accepted: (status: number) => boolean): ConnectorDelivery {
  const { status, body } = response;
  const detail = body.slice(0, 1000);
  if (accepted(status)) return { verdict: "delivered", status, detail };
  if (status === 410) return { verdict: "gone", status, detail };
  const wait = retryAfterMs(response.headers.get("retry-after"));
  const retryable =
    status >= 500 || status === 429 || status === 408 || (status >= 300 && status < 400) || status < 300;
  if (retryable) return { verdict: "retry", status, ...(wait === undefined ? {} : { retryAfterMs: wait }), detail };
  return { verdict: "rejected", status, detail };
}

/**
 * The verdict on a request that got no response: a refused URL is rejected, the rest retried.
 *
 * @example deliveryOfError(new OutboundError("refused", "url must reach a public address", "loopback"))
 */
export function deliveryOfError(err: unknown): ConnectorDelivery {
  if (!(err instanceof OutboundError)) throw err;
  return { verdict: err.kind === "refused" ? "rejected" : "retry", detail: `${err.kind}: ${err.message}` };
}

/**
 * `text` cut to `max` characters, ending with an ellipsis when cut (services refuse longer fields).
 *
 * @example clip("abcdef", 4) // "abc…"
 */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}
