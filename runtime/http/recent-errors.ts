/**
 * The server's most recent errors (5xx answers), kept in memory for GET /api/system/errors: the
 * admin console's "recent errors" panel, and the way from a user's quoted request id to what went
 * wrong without searching the logs. A bounded ring: the newest {@link RecentErrors.capacity}
 * stay, the oldest fall out, and memory never grows. Per process: each node shows its own.
 *
 * Each error keeps its request id, method, route, status, code, time and message: the first line
 * of the error's message, secrets redacted (runtime/security/secret-patterns.ts) and cut to 300
 * characters. Never a stack, which the log line of the same request id carries.
 *
 * @example
 * const recent = new RecentErrors(200);
 * recent.add({ requestId: "r-1", method: "GET", route: "/api/x", status: 500, code: "internal_error", error });
 * recent.list(20); // newest first
 */
import { redactSecrets } from "../security/secret-patterns.ts";

/** One recorded error, as GET /api/system/errors shows it. */
export interface RecentError {
  at: string;
  request_id: string;
  method: string;
  /** The route template (`/api/debates/:id`), or the path when no route matched. */
  route: string;
  status: number;
  /** The error code of the JSON body the client got (`internal_error`, `store_unavailable`, ...). */
  error: string;
  message: string;
}

/** How much of an error's message is kept. */
const MAX_MESSAGE = 300;

/**
 * The message of `error` as it may be shown: its first line, secrets redacted, at most 300 characters.
 *
 * @example errorMessageOf(new Error("boom\n    at x.ts:1")) // "boom"
 */
export function errorMessageOf(error: unknown): string {
  const raw =
    error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error);
  const line = (raw.split("\n", 1)[0] ?? "").trim();
  const safe = redactSecrets(line);
  return safe.length > MAX_MESSAGE ? `${safe.slice(0, MAX_MESSAGE)}...` : safe || "(no message)";
}

export class RecentErrors {
  private readonly ring: (RecentError | undefined)[];
  private next = 0;
  /** Errors recorded since the process started (the ring keeps the last `capacity`). */
  total = 0;

  constructor(readonly capacity = 200) {
    this.ring = new Array(capacity);
  }

  /** Records a 5xx answer. */
  add(e: { requestId: string; method: string; route: string; status: number; code: string; error: unknown }): void {
    this.ring[this.next] = {
      at: new Date().toISOString(),
      request_id: e.requestId,
      method: e.method,
      route: e.route,
      status: e.status,
      error: e.code,
      message: errorMessageOf(e.error),
    };
    this.next = (this.next + 1) % this.capacity;
    this.total++;
  }

  /** The newest `limit` errors, newest first. */
  list(limit: number): RecentError[] {
    const out: RecentError[] = [];
    for (let i = 1; i <= this.capacity && out.length < limit; i++) {
      const e = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (e === undefined) break;
      out.push(e);
    }
    return out;
  }
}
