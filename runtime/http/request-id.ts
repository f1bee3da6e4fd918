/**
 * X-Request-ID handling: a caller's id is honoured when it is a sane token,
 * otherwise the server makes one. The id is echoed on the response and bound to
 * every log line of the request.
 *
 * @example
 * requestIdFrom(new Headers({ "x-request-id": "abc-123" })); // "abc-123"
 * requestIdFrom(new Headers({ "x-request-id": "bad id\n" })); // a fresh UUID
 */
const VALID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export const REQUEST_ID_HEADER = "x-request-id";

export function requestIdFrom(headers: Headers): string {
  const sent = headers.get(REQUEST_ID_HEADER);
  return sent !== null && VALID.test(sent) ? sent : crypto.randomUUID();
}
