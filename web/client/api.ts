/**
 * The console's client of the public API: the same routes everyone calls, authenticated by the
 * session cookies the server sets at sign-in (HttpOnly: this script never sees the tokens). Every
 * request that changes state carries the `aragora_csrf` cookie's value in `X-CSRF-Token` (the
 * double submit access/cookies.ts checks). An expired access cookie is renewed once through
 * POST /api/auth/refresh (one refresh at a time: a refresh token used twice ends the session),
 * then the request is retried; when that fails too, the session is gone (onSessionLost), unless
 * the browser was viewing as a user and the operator's own session comes back (onImpersonationEnded).
 *
 * @example
 * const { debates } = await api.get<{ debates: Debate[] }>("/api/debates?limit=20");
 * await api.post("/api/auth/api-key", { name: "ci" });
 * try { ... } catch (e) { if (e instanceof ApiError && e.status === 403) ... }
 */

/** One invalid field, as the server names it. */
export interface FieldProblem {
  field: string;
  rule: string;
}

/** A refused or failed request: the server's error body, or what went wrong on the way. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The server's stable code (`invalid_credentials`, `forbidden`, ...), or `network` / `bad_response`. */
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
    /** Quote it when reporting a problem: the server's log line carries it. */
    readonly requestId?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const CSRF_COOKIE = "aragora_csrf";
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The CSRF token the server set beside the session cookies, or undefined when signed out. */
export function csrfToken(): string | undefined {
  for (const pair of document.cookie.split(";")) {
    const [name, ...value] = pair.trim().split("=");
    if (name === CSRF_COOKIE) return value.join("=") || undefined;
  }
  return undefined;
}

let sessionLost: () => void = () => {};
/** What to do when the server no longer knows the session (session.ts: forget who is signed in). */
export function onSessionLost(handler: () => void): void {
  sessionLost = handler;
}

let impersonationEnded: () => void = () => {};
/** What to do when an impersonation ended by itself (its 15 minutes passed) and the operator is back. */
export function onImpersonationEnded(handler: () => void): void {
  impersonationEnded = handler;
}

const STOP_PATH = "/api/auth/impersonation/stop";
let stopping: Promise<Response> | undefined;
/**
 * Asks the server to end the impersonation this browser is in (the operator's kept-aside session
 * comes back in the cookies). One at a time: the kept-aside refresh token works once, and a second
 * request with it would end the operator's session on suspicion of theft.
 *
 * @example const res = await stopImpersonation(); // 200: the operator again; 400: there was none
 */
export function stopImpersonation(): Promise<Response> {
  stopping ??= send("POST", STOP_PATH, {}).finally(() => {
    stopping = undefined;
  });
  return stopping;
}

let refreshing: Promise<boolean> | undefined;
/**
 * Renews the access cookie with the refresh cookie; true when the session goes on. A browser
 * viewing the console as a user has no refresh cookie (an impersonation is never renewed): once
 * its 15 minutes are over, the operator's own session kept aside is what goes on.
 */
function refreshSession(): Promise<boolean> {
  // No CSRF cookie, no session to renew (the refresh needs it): a visitor who never signed in.
  if (csrfToken() === undefined) return Promise.resolve(false);
  refreshing ??= send("POST", "/api/auth/refresh", undefined)
    .then(async (res) => {
      if (res.ok) return true;
      const stopped = await stopImpersonation();
      if (stopped.ok) impersonationEnded();
      return stopped.ok;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = undefined;
    });
  return refreshing;
}

function send(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const csrf = MUTATING.has(method) ? csrfToken() : undefined;
  if (csrf !== undefined) headers["x-csrf-token"] = csrf;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
}

/**
 * The {@link ApiError} of a refused answer.
 *
 * @example if (!res.ok) throw await errorOf(res);
 */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as {
      error?: string;
      message?: string;
      details?: FieldProblem[];
      request_id?: string;
    };
    return new ApiError(
      res.status,
      body.error ?? "bad_response",
      body.message ?? `the server answered ${res.status}`,
      body.details ?? [],
      body.request_id ?? res.headers.get("x-request-id") ?? undefined,
    );
  } catch {
    return new ApiError(res.status, "bad_response", `the server answered ${res.status} ${res.statusText}`.trim());
  }
}

/** The ways in answer 401 for a wrong password, token or code: that is no lost session to refresh. */
const WAYS_IN = [
  "/api/auth/sign-in",
  "/api/auth/setup",
  "/api/auth/sign-up",
  "/api/auth/refresh",
  "/api/auth/mfa/verify",
  STOP_PATH,
];
const isWayIn = (path: string) => WAYS_IN.some((way) => path === way || path.startsWith(`${way}?`));

/**
 * One request: the parsed JSON answer (undefined for an empty one), or an {@link ApiError}.
 *
 * @example const me = await request<Me>("GET", "/api/auth/me");
 */
export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await send(method, path, body, signal);
    if (res.status === 401 && !isWayIn(path) && (await refreshSession())) res = await send(method, path, body, signal);
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network", "the server could not be reached: check the connection and retry");
  }
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 401 && !isWayIn(path)) sessionLost();
    throw error;
  }
  const text = await res.text();
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/**
 * A GET whose answer is read as it arrives (NDJSON): the Response once its status is 2xx, with the
 * same session refresh and error answer as {@link request}; the caller reads `body`.
 *
 * @example const res = await openStream("/api/ops/runs/r-1/events", abort.signal); res.body?.getReader();
 */
export async function openStream(path: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await send("GET", path, undefined, signal);
    if (res.status === 401 && (await refreshSession())) res = await send("GET", path, undefined, signal);
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network", "the server could not be reached: check the connection and retry");
  }
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 401) sessionLost();
    throw error;
  }
  return res;
}

/** {@link request} by method. */
export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>("GET", path, undefined, signal),
  post: <T>(path: string, body: unknown = {}, signal?: AbortSignal) => request<T>("POST", path, body, signal),
  put: <T>(path: string, body: unknown = {}, signal?: AbortSignal) => request<T>("PUT", path, body, signal),
  patch: <T>(path: string, body: unknown = {}, signal?: AbortSignal) => request<T>("PATCH", path, body, signal),
  delete: <T>(path: string, signal?: AbortSignal) => request<T>("DELETE", path, undefined, signal),
};
