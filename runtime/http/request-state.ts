/**
 * Per-request state (id, start time, bound logger, in-flight slot) kept beside the Request
 * object, so every hook, route and error handler reaches the same request id.
 *
 * @example
 * const id = stateOf(request)?.id;
 * stateOf(request)?.log.warn("something odd"); // carries request_id
 */
import type { Drain } from "../drain.ts";
import type { Logger } from "../log.ts";
import type { Principal } from "./principal.ts";

export class RequestState {
  private child: Logger | undefined;
  private ended = false;
  private ip: string | undefined;
  /** Who is calling, once the shell's authentication step has found out (principal.ts). */
  principal: Principal | undefined;
  /** The headers every response to this request carries (request id, CORS), set when it is admitted. */
  responseHeaders: Record<string, string> | undefined;

  constructor(
    readonly id: string,
    readonly start: number,
    private readonly root: Logger,
    private readonly drain: Drain,
    /** Works out the client's address (client-ip.ts); absent, every address is "unknown". */
    private readonly addressOf?: (request: Request) => string,
  ) {
    drain.enter();
  }

  /** The client's address (client-ip.ts), worked out on first use: most requests never need it. */
  clientIp(request: Request): string {
    this.ip ??= this.addressOf?.(request) ?? "unknown";
    return this.ip;
  }

  /** Logger bound to this request's id, made on first use: most requests never need one. */
  get log(): Logger {
    this.child ??= this.root.child({ request_id: this.id });
    return this.child;
  }

  /** Release the in-flight slot; true the first time, false after (so books are closed once). */
  end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.drain.leave();
    return true;
  }
}

/**
 * Kept on the Request itself under a private symbol: a WeakMap set+get costs ~0.1 us per
 * request on the hot path, a property on the object a tenth of that, and it dies with the request.
 */
const STATE: unique symbol = Symbol("aragora.requestState");
type WithState = Request & { [STATE]?: RequestState };

/** Attach the state made in onRequest (once per request). */
export function bindState(request: Request, state: RequestState): void {
  (request as WithState)[STATE] = state;
}

/** The request's state, or undefined for a Request the app did not see (tests, sub-requests). */
export function stateOf(request: Request): RequestState | undefined {
  return (request as WithState)[STATE];
}
