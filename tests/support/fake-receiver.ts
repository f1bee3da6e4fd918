/**
 * A real HTTP(S) server standing in for a service that receives what the server sends (a webhook
 * endpoint, Slack, Discord, Teams, a token endpoint), with the faults such a service can have:
 * slow answers, a body that stalls, any status (5xx, 410, 429 with Retry-After), a redirect and a
 * reset connection. Built on `node:http` because only a raw socket can be reset mid-request.
 *
 * Every request is recorded (headers lower-cased, the body as received, the addresses of both
 * ends), faulted or not, so tests can check what arrived and where.
 *
 * @example
 * const hook = await startFakeReceiver({ answer: () => ({ status: 200, body: "ok" }) });
 * hook.failNext({ kind: "respond", status: 503 }, { kind: "reset" });
 * // first request: 503, second: connection reset, then 200 "ok"
 * await hook.stop();
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";

/** One request as it arrived. */
export interface ReceivedRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The address the request came from, and the one it reached (which of several listeners). */
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** The fault it was answered with, if any. */
  readonly fault?: Fault["kind"];
}

/** What the service answers a request that is not faulted. */
export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export type Fault =
  /** Answers normally, after `delayMs`. */
  | { readonly kind: "slow"; readonly delayMs: number }
  /**
   * Sends the status line, the headers and the first `sentBytes` (default 1) of the answer's
   * body, then waits `delayMs` before the rest.
   */
  | { readonly kind: "stall-body"; readonly delayMs: number; readonly sentBytes?: number }
  /** Answers this instead (a 5xx, 410 Gone, 429 with Retry-After ...). */
  | { readonly kind: "respond"; readonly reply: Reply }
  /** Answers a redirect to `location`. */
  | { readonly kind: "redirect"; readonly location: string; readonly status?: 301 | 302 | 303 | 307 | 308 }
  /** Resets the connection (TCP RST) once the request has arrived, answering nothing. */
  | { readonly kind: "reset" };

export interface FakeReceiverOptions {
  /** The service's answer to a request (default: 200, empty). */
  readonly answer?: (request: ReceivedRequest) => Reply;
  /** Address to listen on (default 127.0.0.1). */
  readonly hostname?: string;
  /** Port (default: a free one). */
  readonly port?: number;
  /** Serve https with this key and certificate. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

export interface FakeReceiver {
  /** The base URL: `http://127.0.0.1:PORT` (https with tls). */
  readonly url: string;
  readonly port: number;
  readonly hostname: string;
  readonly received: ReceivedRequest[];
  /** Faults for the next requests, in order; requests after them are answered normally. */
  failNext(...faults: Fault[]): void;
  /** A fault for every request from now on (undefined: none). */
  failAlways(fault: Fault | undefined): void;
  /** Resolves when `count` requests have arrived (faulted ones included). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  stop(): Promise<void>;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/**
 * Starts a receiver; see the module comment.
 *
 * @example const r = await startFakeReceiver({ hostname: "127.0.0.2", port: other.port });
 */
export async function startFakeReceiver(options: FakeReceiverOptions = {}): Promise<FakeReceiver> {
  const answer = options.answer ?? ((): Reply => ({ status: 200 }));
  const received: ReceivedRequest[] = [];
  const queue: Fault[] = [];
  let always: Fault | undefined;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sockets = new Set<Socket>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const send = (res: ServerResponse, reply: Reply) => {
    const body = reply.body ?? "";
    res.writeHead(reply.status, { "content-length": String(Buffer.byteLength(body)), ...reply.headers });
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const fault = queue.shift() ?? always;
      const request: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: flatHeaders(req),
        body: Buffer.concat(chunks).toString("utf8"),
        remoteAddress: req.socket.remoteAddress ?? "",
        localAddress: req.socket.localAddress ?? "",
        ...(fault === undefined ? {} : { fault: fault.kind }),
      };
      received.push(request);
      for (const waiter of [...waiters]) {
        if (received.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      switch (fault?.kind) {
        case undefined:
          return send(res, answer(request));
        case "slow":
          return later(fault.delayMs, () => send(res, answer(request)));
        case "stall-body": {
          const body = Buffer.from(answer(request).body ?? "");
          const sent = Math.max(1, fault.sentBytes ?? 1);
          const padded = body.length > sent ? body : Buffer.concat([body, Buffer.alloc(sent + 1 - body.length, 32)]);
          res.writeHead(200, { "content-length": String(padded.length) });
          res.write(padded.subarray(0, sent));
          return later(fault.delayMs, () => res.end(padded.subarray(sent)));
        }
        case "respond":
          return send(res, fault.reply);
        case "redirect":
          return send(res, { status: fault.status ?? 302, headers: { location: fault.location } });
        case "reset":
          req.socket.resetAndDestroy();
          return;
      }
    });
  };

  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle)
    : createHttpServer(handle);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const hostname = options.hostname ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${port}`,
    port,
    hostname,
    received,
    failNext: (...faults) => queue.push(...faults),
    failAlways: (fault) => {
      always = fault;
    },
    waitFor: (count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (received.length >= count) return resolve(received);
        const timer = setTimeout(
          () => reject(new Error(`${received.length} of ${count} requests arrived within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(received);
          },
        });
      }),
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
