/**
 * A {@link SendOutbound} on Bun's fetch with no address checks: redirects are not followed (a 3xx
 * comes back as it is), the whole exchange is bounded by the request's timeout, and the answer's
 * body is read up to {@link BODY_LIMIT} characters. The server uses it until the guarded sender
 * (which refuses internal addresses and pins the connection to the address it checked) replaces it.
 *
 * @example
 * const send = plainSender();
 * const res = await send({ url, headers, body, timeoutMs: 30_000 }); // { status, headers, body, latencyMs }
 */
import { OutboundError, type OutboundResponse, type SendOutbound } from "../../runtime/http/outbound.ts";

/** Characters of a response body kept (receivers' error pages can be large). */
export const BODY_LIMIT = 4096;

/**
 * The fetch-based sender.
 *
 * @example const send = plainSender(); await send({ url: "https://hooks.example.com", headers: {}, body: "{}", timeoutMs: 1000 });
 */
export function plainSender(): SendOutbound {
  return async (request): Promise<OutboundResponse> => {
    const started = performance.now();
    const timeout = AbortSignal.timeout(request.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    try {
      const res = await fetch(request.url, {
        method: request.method ?? "POST",
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal,
      });
      const body = await readLimited(res);
      return { status: res.status, headers: res.headers, body, latencyMs: performance.now() - started };
    } catch (err) {
      if (timeout.aborted) {
        throw new OutboundError("timeout", `no complete answer within ${request.timeoutMs} ms`);
      }
      const message = err instanceof Error ? err.message : String(err);
      throw new OutboundError(/DNS|ENOTFOUND|getaddrinfo/i.test(message) ? "dns" : "network", message);
    }
  };
}

/** The body's first {@link BODY_LIMIT} characters; the rest is not read (the connection is released). */
async function readLimited(res: Response): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.length >= BODY_LIMIT) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, BODY_LIMIT);
}
