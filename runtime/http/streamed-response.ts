/**
 * Responses whose body is produced while it is sent (exports). Their 200 goes out before the body
 * is known to succeed, so the shell closes their books (request line, histogram, in-flight slot)
 * when the body ends, and says how it ended: completed, failed (the body broke off; the client
 * sees the connection reset, never a clean end) or cancelled (the client went away).
 *
 * @example
 * return streamedResponse(exportDebates(store, owner, filter, "json"), { headers: { "content-type": "application/json" } });
 */

export type StreamOutcome =
  | { kind: "completed"; bytes: number }
  | { kind: "cancelled"; bytes: number }
  | { kind: "failed"; bytes: number; error: unknown };

const STREAMED = new WeakSet<Response>();

/**
 * A Response over a streamed body that the shell follows to its end (see the module comment).
 *
 * @example streamedResponse(stream, { headers: { "content-type": "text/csv" } })
 */
export function streamedResponse(body: ReadableStream<Uint8Array | string>, init?: ResponseInit): Response {
  const response = new Response(body as ReadableStream<Uint8Array>, init);
  STREAMED.add(response);
  return response;
}

/** Whether a route's response was made by {@link streamedResponse}. */
export function isStreamedResponse(value: unknown): value is Response {
  return value instanceof Response && STREAMED.has(value);
}

const byteLength = (chunk: Uint8Array | string) =>
  typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;

/**
 * The same body, passed through chunk by chunk; `settled` is called once, when it completes, fails
 * or is cancelled by the client. A failure errors the returned stream too, so the server aborts
 * the response instead of ending it as if it were whole.
 *
 * @example observeStream(response.body, (outcome) => log.info(outcome, "stream ended"))
 */
export function observeStream(
  source: ReadableStream<Uint8Array | string>,
  settled: (outcome: StreamOutcome) => void,
): ReadableStream<Uint8Array | string> {
  const reader = source.getReader();
  let bytes = 0;
  let done = false;
  const settle = (outcome: StreamOutcome) => {
    if (done) return;
    done = true;
    settled(outcome);
  };
  return new ReadableStream<Uint8Array | string>({
    async pull(controller) {
      let read: Awaited<ReturnType<typeof reader.read>>;
      try {
        read = await reader.read();
      } catch (error) {
        settle({ kind: "failed", bytes, error });
        controller.error(error);
        return;
      }
      if (read.done) {
        settle({ kind: "completed", bytes });
        controller.close();
        return;
      }
      bytes += byteLength(read.value);
      controller.enqueue(read.value);
    },
    cancel(reason) {
      settle({ kind: "cancelled", bytes });
      return reader.cancel(reason);
    },
  });
}
