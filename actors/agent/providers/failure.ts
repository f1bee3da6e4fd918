/**
 * What went wrong with one provider call, in the terms the agent actor decides on: is it worth a
 * retry, how long does the provider want us to wait, is it a rate limit or an exhausted quota
 * (which send the turn to the fallback), and did it happen before or after the first token.
 *
 * @example
 * try { await client.stream(call); } catch (err) {
 *   const failure = classifyFailure(err, { afterFirstToken: false, signal });
 *   if (failure.kind === "rate_limited") ...
 * }
 */
// @ai-sdk/provider is where the SDK defines its errors; importing "ai" here would load the whole SDK at start.
import { APICallError } from "@ai-sdk/provider";

export type FailureKind = "rate_limited" | "quota" | "provider_error" | "timeout" | "aborted";

export interface ProviderFailure {
  kind: FailureKind;
  /** HTTP status of the response, or the status a provider stream error maps to. */
  status: number | undefined;
  /** Safe for logs and API responses: never contains a key or a request body. */
  message: string;
  /** Whether the status and the error say another attempt may succeed. */
  retryable: boolean;
  /** The provider's `x-should-retry` header: true or false overrides `retryable`. */
  shouldRetry: boolean | undefined;
  /** Wait the provider asked for (retry-after-ms, else retry-after), in ms; may be negative for a past date. */
  retryAfterMs: number | undefined;
  afterFirstToken: boolean;
}

/** Stream error types that stand for a provider's transient trouble (OpenAI, Anthropic, Gemini names). */
const TRANSIENT_STREAM_ERROR = /server_error|overloaded|api_error|internal|unavailable|rate_limit|timeout/i;
const QUOTA = /quota|insufficient[_ ]?(credit|fund|balance)|billing|payment required|credit balance/i;

/**
 * Turns anything a provider call threw (AI SDK errors, stream error payloads, fetch errors,
 * aborts) into a {@link ProviderFailure}.
 *
 * @example
 * classifyFailure(new APICallError({ message: "slow down", statusCode: 429, url, requestBodyValues: {} }), { afterFirstToken: false, signal })
 * // { kind: "rate_limited", status: 429, retryable: true, ... }
 */
export function classifyFailure(
  error: unknown,
  context: { afterFirstToken: boolean; signal: AbortSignal },
): ProviderFailure {
  const { afterFirstToken, signal } = context;
  const base = { afterFirstToken, shouldRetry: undefined, retryAfterMs: undefined };
  if (signal.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    const timedOut = reason?.name === "TimeoutError";
    return {
      ...base,
      kind: timedOut ? "timeout" : "aborted",
      status: undefined,
      message: timedOut ? "the turn timed out" : "the turn was aborted",
      retryable: false,
    };
  }
  if (APICallError.isInstance(error)) {
    const headers = lowerCase(error.responseHeaders);
    const status = error.statusCode;
    const message = providerMessage(error.data, error.message);
    const shouldRetry =
      headers["x-should-retry"] === "true" ? true : headers["x-should-retry"] === "false" ? false : undefined;
    return {
      kind: kindOf(status, `${message} ${error.responseBody ?? ""}`),
      status,
      message: status === undefined ? message : `HTTP ${status}: ${message}`,
      retryable: error.isRetryable || status === 529,
      shouldRetry,
      retryAfterMs: retryAfterMs(headers),
      afterFirstToken,
    };
  }
  if (typeof error === "object" && error !== null && "message" in error && ("type" in error || "statusCode" in error)) {
    // A provider stream error: an error event inside a 200 stream (see createProviderStreamError).
    const e = error as { message?: unknown; type?: unknown; statusCode?: unknown; isRetryable?: unknown };
    const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
    const text = `${String(e.type ?? "error")}: ${String(e.message ?? "")}`;
    return {
      ...base,
      kind: kindOf(status, text),
      status,
      message: `stream error ${text}`,
      // Without a status, the error's type says whether it is the provider's transient trouble
      // (an error event before the first token is retried like the 5xx it stands for).
      retryable:
        e.isRetryable === true ||
        (status !== undefined ? status === 429 || status >= 500 : TRANSIENT_STREAM_ERROR.test(String(e.type ?? ""))),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  // Connection resets, dropped streams and unparseable chunks: transient by nature.
  return { ...base, kind: "provider_error", status: undefined, message: trimMessage(message), retryable: true };
}

function kindOf(status: number | undefined, text: string): FailureKind {
  if (status === 402) return "quota";
  if ((status === 429 || status === 403 || status === undefined) && QUOTA.test(text)) return "quota";
  if (status === 429) return "rate_limited";
  return "provider_error";
}

function lowerCase(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/**
 * The wait a response asks for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date.
 *
 * @example
 * retryAfterMs({ "retry-after": "2" }); // 2000
 */
export function retryAfterMs(headers: Record<string, string>, now = Date.now()): number | undefined {
  const ms = headers["retry-after-ms"];
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Number(ms);
  const after = headers["retry-after"]?.trim();
  if (after === undefined || after === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Number(after) * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : date - now;
}

function providerMessage(data: unknown, fallback: string): string {
  const d = data as { error?: { message?: unknown } | string; message?: unknown } | undefined;
  const nested = typeof d?.error === "object" ? d.error?.message : d?.error;
  const text = typeof nested === "string" ? nested : typeof d?.message === "string" ? d.message : fallback;
  return trimMessage(text);
}

function trimMessage(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
}
