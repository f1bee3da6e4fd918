/**
 * Messages between the main thread and a provider worker thread, and how a provider error crosses
 * the boundary. Structured clone keeps plain data only: an APICallError arrives as a plain object
 * without its class, so it is sent as its fields and rebuilt on the main thread, where
 * classifyFailure then sees the same error the in-thread client would have thrown.
 *
 * @example
 * worker.postMessage({ op: "stream", id: 1, provider: "openai", model: "gpt-4.1-mini", system, prompt } satisfies ToWorker);
 */
import { APICallError } from "@ai-sdk/provider";
import type { CallOutcome } from "./client.ts";
import type { ProviderSettings } from "./sdk-client.ts";

export type ToWorker =
  | { op: "init"; settings: ProviderSettings }
  | {
      op: "stream";
      id: number;
      provider: string;
      model: string;
      system: string;
      prompt: string;
      maxOutputTokens?: number;
      /**
       * Call with this key instead of the server's (an organisation's own); `id` names the key
       * (organisation and fingerprint), so the worker keeps one client per key.
       */
      credential?: { id: string; apiKey: string };
    }
  | { op: "abort"; id: number };

export type FromWorker =
  /** Deltas of several turns received in one turn of the worker's event loop, in order. */
  | { op: "deltas"; items: [id: number, delta: string][] }
  | { op: "done"; id: number; outcome: CallOutcome }
  | { op: "failed"; id: number; error: WireError };

export type WireError =
  | {
      kind: "api_call";
      message: string;
      url: string;
      statusCode?: number;
      responseHeaders?: Record<string, string>;
      responseBody?: string;
      isRetryable: boolean;
      data?: unknown;
    }
  | { kind: "error"; name: string; message: string; fields: Record<string, unknown> }
  | { kind: "value"; value: unknown };

/** Own enumerable fields of an error that survive structured clone (type, statusCode, ...). */
function plainFields(err: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) out[k] = v;
  }
  return out;
}

/**
 * An error as data the worker can post. The request body is left out: it holds the prompt, and
 * nothing on the main thread reads it.
 *
 * @example postMessage({ op: "failed", id, error: toWire(err) })
 */
export function toWire(err: unknown): WireError {
  if (APICallError.isInstance(err)) {
    let data: unknown;
    try {
      data = structuredClone(err.data);
    } catch {
      data = undefined;
    }
    return {
      kind: "api_call",
      message: err.message,
      url: err.url,
      statusCode: err.statusCode,
      responseHeaders: err.responseHeaders,
      responseBody: err.responseBody,
      isRetryable: err.isRetryable,
      data,
    };
  }
  if (err instanceof Error) return { kind: "error", name: err.name, message: err.message, fields: plainFields(err) };
  try {
    return { kind: "value", value: structuredClone(err) };
  } catch {
    return { kind: "error", name: "Error", message: String(err), fields: {} };
  }
}

/**
 * The error the worker's client threw, rebuilt on the main thread.
 *
 * @example throw fromWire(message.error);
 */
export function fromWire(wire: WireError): unknown {
  switch (wire.kind) {
    case "api_call":
      return new APICallError({
        message: wire.message,
        url: wire.url,
        requestBodyValues: {},
        statusCode: wire.statusCode,
        responseHeaders: wire.responseHeaders,
        responseBody: wire.responseBody,
        isRetryable: wire.isRetryable,
        data: wire.data,
      });
    case "error": {
      const err = Object.assign(new Error(wire.message), wire.fields);
      err.name = wire.name;
      return err;
    }
    case "value":
      return wire.value;
  }
}
