/**
 * `http.request`: call an HTTP endpoint (a health check, an admin API) and expose the answer as
 * outputs. A status outside `expect_status` fails the step, so retry and on_failure apply.
 * `auth: operator` presents the operator's credential (ARAGORA_API_TOKEN, else the handoff token of
 * the server holding the data dir), for Aragora's own routes; it is never sent unless asked for, and
 * never journaled.
 *
 * @example
 * - id: health
 *   action: http.request
 *   with: { url: "http://localhost:8080/api/health", expect_status: [200] }
 *   timeout: 5s
 *   retry: { max: 3, backoff: exponential, initial: 1s }
 * - id: agents
 *   action: http.request
 *   with: { url: "${{ params.api_url }}/api/agents/health", auth: operator }
 *   timeout: 10s
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";
import { readOpsToken } from "../handoff.ts";

const HttpRequestInput = lazy(() =>
  type({
    url: "string.url",
    "method?": "'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'",
    "headers?": "Record<string, string>",
    "body?": "string | Record<string, unknown> | unknown[]",
    "expect_status?": "number.integer[] | number.integer",
    "auth?": "'operator'",
    "+": "reject",
  }),
);
type HttpRequestInput = typeof HttpRequestInput.infer;

/** The outcome of a request outside the expected statuses; carries the status for the journal. */
export class UnexpectedStatusError extends Error {
  override name = "UnexpectedStatusError";
  constructor(
    readonly status: number,
    expected: number[],
    readonly body: string,
  ) {
    super(`HTTP ${status}, expected ${expected.join(" or ")}: ${body.slice(0, 200)}`);
  }
}

const SAFE = new Set(["GET", "HEAD", "PUT", "DELETE"]);

export const httpRequestAction: ActionDefinition<HttpRequestInput, { status: number; body: string; json: unknown }> = {
  name: "http.request",
  description: "send an HTTP request; outputs status, body and json (when the body is JSON)",
  input: HttpRequestInput,
  outputs: ["status", "body", "json"],
  // Methods that are idempotent by HTTP semantics may be re-sent after a crash; POST/PATCH may not.
  idempotent: (input: HttpRequestInput) => SAFE.has(input.method ?? "GET"),
  async plan(input) {
    const method = input.method ?? "GET";
    return {
      summary: `${method} ${input.url}`,
      changes: SAFE.has(method) && method !== "PUT" && method !== "DELETE" ? [] : [{ kind: "http", target: input.url }],
    };
  },
  async run(input, ctx) {
    const method = input.method ?? "GET";
    const headers = new Headers(input.headers ?? {});
    if (input.auth === "operator") {
      const token = ctx.config.apiToken ?? readOpsToken(ctx.dataDir);
      if (!token) {
        throw new Error("auth: operator needs ARAGORA_API_TOKEN, or a server holding the data dir (its handoff token)");
      }
      headers.set("authorization", `Bearer ${token}`);
    }
    let body: string | undefined;
    if (typeof input.body === "string") body = input.body;
    else if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const response = await fetch(input.url, { method, headers, body, signal: ctx.signal });
    const text = await response.text();
    const expected =
      input.expect_status === undefined
        ? undefined
        : Array.isArray(input.expect_status)
          ? input.expect_status
          : [input.expect_status];
    if (expected ? !expected.includes(response.status) : !response.ok) {
      throw new UnexpectedStatusError(response.status, expected ?? [200, 299], text);
    }
    let json: unknown = null;
    if ((response.headers.get("content-type") ?? "").includes("json")) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    return { status: response.status, body: text, json };
  },
};
