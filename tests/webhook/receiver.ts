/**
 * A webhook receiver for the tests: a real HTTP server (Bun.serve) that records every request it
 * gets (headers, the body's exact text, when) and answers as the test scripts it: a status, a
 * Retry-After, a redirect, a delay.
 *
 * @example
 * const rx = startReceiver();
 * rx.script((n) => (n <= 2 ? { status: 500 } : { status: 200 }));
 * await rx.waitFor(3);
 * rx.stop();
 */

export interface Received {
  headers: Record<string, string>;
  body: string;
  path: string;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Real milliseconds before answering. */
  delayMs?: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** How to answer the n-th request (1-based); default 200 "ok". */
  script(answer: (n: number, request: Received) => Answer): void;
  /** Resolves once `count` requests arrived (real time), failing after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Starts a receiver on a free port of 127.0.0.1. */
export function startReceiver(): Receiver {
  const received: Received[] = [];
  let answer: (n: number, request: Received) => Answer = () => ({ status: 200, body: "ok" });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const request: Received = {
        headers: Object.fromEntries(req.headers),
        body: await req.text(),
        path: new URL(req.url).pathname,
        at: Date.now(),
      };
      received.push(request);
      const a = answer(received.length, request);
      if (a.delayMs) await Bun.sleep(a.delayMs);
      return new Response(a.body ?? "", { status: a.status, headers: a.headers });
    },
  });
  const port = server.port as number;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    script(next) {
      answer = next;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`the receiver got ${received.length} requests, not ${count}, within ${timeoutMs} ms`);
        }
        await Bun.sleep(5);
      }
    },
    stop() {
      server.stop(true);
    },
  };
}
