/**
 * Per-request state (id, start time, bound logger, in-flight release) kept beside the
 * Request object, so every hook, route and error handler reaches the same request id.
 *
 * @example
 * const id = stateOf(request)?.id;
 */
import type { Logger } from "../log.ts";

export interface RequestState {
  id: string;
  start: number;
  log: Logger;
  end: () => void;
}

const states = new WeakMap<Request, RequestState>();

export function bindState(request: Request, state: RequestState): void {
  states.set(request, state);
}

export function stateOf(request: Request): RequestState | undefined {
  return states.get(request);
}
